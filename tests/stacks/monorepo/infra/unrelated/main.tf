# Reached by no module of infra/live/test: the run dir copy must not contain this folder.
resource "aws_s3_bucket" "unrelated" {
  bucket = "never-copied"
}
