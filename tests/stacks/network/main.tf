# The small stack plus a VPC, a subnet and a security group: apply takes ~10 s (the provider's fixed
# wait after enable_dns_hostnames), long enough to be interrupted half way, and the tag sweep has
# resources to delete in dependency order. Used by the fault-injection suite (tests/faults).
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
  bucket        = "${var.name_prefix}-small"
  force_destroy = true
  tags = {
    Name = "${var.name_prefix}-small"
  }
}

output "bucket_name" {
  value = aws_s3_bucket.this.id
}

resource "aws_vpc" "this" {
  cidr_block           = "10.42.0.0/16"
  enable_dns_hostnames = true
  tags = {
    Name = "${var.name_prefix}-vpc"
  }
}

resource "aws_subnet" "this" {
  vpc_id     = aws_vpc.this.id
  cidr_block = "10.42.1.0/24"
  tags = {
    Name = "${var.name_prefix}-subnet"
  }
  timeouts {
    delete = "45m" # a VPC Lambda's ENIs can hold the subnet for tens of minutes on AWS
  }
}

resource "aws_security_group" "this" {
  name   = "${var.name_prefix}-sg"
  vpc_id = aws_vpc.this.id
  tags = {
    Name = "${var.name_prefix}-sg"
  }
  timeouts {
    delete = "45m"
  }
}
