# The smallest stack the plugin can drive: one tagged bucket, the contract's inputs, one output.
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
  # SSE-S3 inline, as AWS applies it anyway: provider 3.x shows drift without it (AWS default since 2023).
  server_side_encryption_configuration {
    rule {
      apply_server_side_encryption_by_default {
        sse_algorithm = "AES256"
      }
    }
  }
  tags = {
    Name = "${var.name_prefix}-small"
  }
}

output "bucket_name" {
  value = aws_s3_bucket.this.id
}
