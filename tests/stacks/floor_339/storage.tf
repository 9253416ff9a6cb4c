# The model bucket: private, versioned, encrypted; force_destroy so a test run can always clean up.
# Inline versioning/encryption blocks are what provider 3.x offers (4.x+ still accepts them).

resource "aws_s3_bucket" "models" {
  bucket        = "${var.name_prefix}-models"
  acl           = "private"
  force_destroy = true

  versioning {
    enabled = true
  }

  server_side_encryption_configuration {
    rule {
      apply_server_side_encryption_by_default {
        sse_algorithm = "AES256"
      }
    }
  }

  tags = {
    Name = "${var.name_prefix}-models"
  }
}

resource "aws_s3_bucket_public_access_block" "models" {
  bucket = aws_s3_bucket.models.id

  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}
