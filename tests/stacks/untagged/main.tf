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
  # SSE-S3 inline, as AWS applies it anyway: provider 3.x shows drift without it (AWS default since 2023).
  server_side_encryption_configuration {
    rule {
      apply_server_side_encryption_by_default {
        sse_algorithm = "AES256"
      }
    }
  }
  tags = {
    Name = "${var.name_prefix}-untagged"
  }
}
