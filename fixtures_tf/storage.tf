# The model bucket: private (ACLs disabled, AWS's default; public access blocked), versioned, encrypted;
# force_destroy so a test run can always clean up. Since hashicorp/aws 4.0 these are separate
# resources (the inline acl/versioning/encryption arguments are deprecated).

resource "aws_s3_bucket" "models" {
  bucket        = "${var.name_prefix}-models"
  force_destroy = true

  tags = {
    Name = "${var.name_prefix}-models"
  }
}

resource "aws_s3_bucket_versioning" "models" {
  bucket = aws_s3_bucket.models.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "models" {
  bucket = aws_s3_bucket.models.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_public_access_block" "models" {
  bucket = aws_s3_bucket.models.id

  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}
