variable "name_prefix" {
  type = string
}

variable "versioning" {
  description = "Count gate for the versioning-only policy statement."
  type        = bool
  default     = false
}

module "name" {
  source      = "../naming"
  name_prefix = var.name_prefix
  purpose     = "models"
}

data "aws_caller_identity" "current" {}

data "aws_iam_policy_document" "tls_only" {
  source_json = templatefile("${path.module}/policies/tls_only.json.tpl", { bucket = module.name.name })
}

resource "aws_s3_bucket" "this" {
  bucket        = module.name.name
  force_destroy = true
  tags = {
    Name    = module.name.name
    Account = data.aws_caller_identity.current.account_id
  }
}

resource "aws_s3_bucket_policy" "tls_only" {
  count  = var.versioning ? 0 : 1
  bucket = aws_s3_bucket.this.id
  policy = data.aws_iam_policy_document.tls_only.json
}

output "bucket_name" {
  value = aws_s3_bucket.this.id
}

output "model_key" {
  value = "models/ner"
}
