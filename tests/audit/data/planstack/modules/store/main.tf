terraform {
  required_providers {
    aws = { source = "hashicorp/aws", version = ">= 3.39" }
  }
}

resource "aws_s3_bucket" "artifacts" {
  bucket = "audit-store-artifacts"
}
