terraform {
  required_providers {
    aws = { source = "hashicorp/aws", version = ">= 3.39" }
  }
}

variable "endpoint" { type = string }

variable "with_derived" {
  type    = bool
  default = true
}

provider "aws" {
  region                      = "us-east-1"
  access_key                  = "testing"
  secret_key                  = "testing"
  s3_force_path_style         = true
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  skip_get_ec2_platforms      = true
  max_retries                 = 1
  endpoints {
    s3  = var.endpoint
    sts = var.endpoint
    iam = var.endpoint
  }
  default_tags {
    tags = { Environment = "dev", Project = "ner" }
  }
}

# Clean: Name here, Environment from default_tags.
resource "aws_s3_bucket" "models" {
  bucket = "audit-models"
  tags   = { Name = "audit-models" }
}

# Missing Name.
resource "aws_s3_bucket" "logs" {
  bucket = "audit-logs"
}

# Bad value: overrides Environment with one the policy does not allow.
resource "aws_s3_bucket" "scratch" {
  bucket = "audit-scratch"
  tags   = { Name = "audit-scratch", Environment = "sandbox" }
}

# Tags only known after apply (they depend on another bucket's ARN). Provider 3.39 cannot apply this
# ("inconsistent final plan"), so the state below is made with with_derived = false.
resource "aws_s3_bucket" "derived" {
  count  = var.with_derived ? 1 : 0
  bucket = "audit-derived"
  tags   = { Name = "audit-derived", Source = aws_s3_bucket.models.arn }
}

# Not taggable at all: never audited.
resource "aws_s3_bucket_public_access_block" "models" {
  bucket              = aws_s3_bucket.models.id
  block_public_acls   = true
  block_public_policy = true
}

# A child module: its bucket has no Name.
module "store" {
  source = "./modules/store"
}
