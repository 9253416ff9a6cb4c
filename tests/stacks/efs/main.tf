# A VPC, two subnets, a security group, a tagged EFS file system with a mount target per subnet
# (mount targets cannot carry tags) and a tagged access point. Used by the fault-injection suite
# (tests/faults) to kill a run while the file system's children exist: reap finds them only
# through the file system's tag.
terraform {
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 3.39"
    }
  }
}

provider "aws" {
  region = var.region
  default_tags {
    tags = merge(var.tags, { "mlinfra:run-id" = var.run_id })
  }
}

variable "run_id" {
  type = string
}

variable "name_prefix" {
  type = string
}

variable "region" {
  type    = string
  default = "us-east-1"
}

variable "tags" {
  type    = map(string)
  default = {}
}

resource "aws_s3_bucket" "this" {
  bucket        = "${var.name_prefix}-efs"
  force_destroy = true
}

output "bucket_name" {
  value = aws_s3_bucket.this.id
}

resource "aws_vpc" "this" {
  cidr_block = "10.43.0.0/16"
}

resource "aws_subnet" "this" {
  count             = 2
  vpc_id            = aws_vpc.this.id
  cidr_block        = cidrsubnet("10.43.0.0/16", 8, count.index)
  availability_zone = "${var.region}${count.index == 0 ? "a" : "b"}"
  timeouts {
    delete = "45m" # what the bundled stack allows a VPC Lambda's ENIs
  }
}

resource "aws_security_group" "this" {
  name   = "${var.name_prefix}-efs"
  vpc_id = aws_vpc.this.id
  timeouts {
    delete = "45m"
  }
}

resource "aws_efs_file_system" "this" {
  creation_token = "${var.name_prefix}-efs"
}

resource "aws_efs_access_point" "this" {
  file_system_id = aws_efs_file_system.this.id
  root_directory {
    path = "/lambda"
  }
}

resource "aws_efs_mount_target" "this" {
  count           = 2
  file_system_id  = aws_efs_file_system.this.id
  subnet_id       = aws_subnet.this[count.index].id
  security_groups = [aws_security_group.this.id]
}
