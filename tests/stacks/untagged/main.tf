# A stack that ignores the plugin's cost tags: the bucket carries only its Name.
terraform {
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 3.39"
    }
  }
}

provider "aws" {
  region = "us-east-1"
}

variable "name_prefix" {
  type = string
}

resource "aws_s3_bucket" "this" {
  bucket        = "${var.name_prefix}-untagged"
  force_destroy = true
  tags = {
    Name = "${var.name_prefix}-untagged"
  }
}
