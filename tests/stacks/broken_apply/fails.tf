resource "aws_s3_bucket_object" "fails" {
  bucket     = "${var.name_prefix}-no-such-bucket"
  key        = "x"
  content    = "x"
  depends_on = [aws_s3_bucket.this]
}
