# Least-privilege roles for the function and for DataSync; inline policies keep the stack self-contained.

data "aws_iam_policy_document" "lambda_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "lambda" {
  name               = "${var.name_prefix}-lambda"
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json

  tags = {
    Name = "${var.name_prefix}-lambda"
  }
}

data "aws_iam_policy_document" "lambda" {
  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.lambda.arn}:*"]
  }

  statement {
    sid = "VpcAccess"
    actions = [
      "ec2:CreateNetworkInterface",
      "ec2:DescribeNetworkInterfaces",
      "ec2:DeleteNetworkInterface",
      "ec2:AssignPrivateIpAddresses",
      "ec2:UnassignPrivateIpAddresses",
    ]
    resources = ["*"]
  }

  dynamic "statement" {
    for_each = var.enable_efs ? [1] : []
    content {
      sid       = "EfsMount"
      actions   = ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"]
      resources = [aws_efs_file_system.models[0].arn]
      condition {
        test     = "StringEquals"
        variable = "elasticfilesystem:AccessPointArn"
        values   = [aws_efs_access_point.lambda[0].arn]
      }
    }
  }

  dynamic "statement" {
    for_each = var.enable_efs ? [] : [1]
    content {
      sid       = "ModelFromS3"
      actions   = ["s3:GetObject"]
      resources = ["${aws_s3_bucket.models.arn}/${var.model_key}/*"]
    }
  }
}

resource "aws_iam_role_policy" "lambda" {
  name   = "${var.name_prefix}-lambda"
  role   = aws_iam_role.lambda.id
  policy = data.aws_iam_policy_document.lambda.json
}

data "aws_iam_policy_document" "datasync_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["datasync.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "datasync" {
  count = local.efs_count

  name               = "${var.name_prefix}-datasync"
  assume_role_policy = data.aws_iam_policy_document.datasync_assume.json

  tags = {
    Name = "${var.name_prefix}-datasync"
  }
}

data "aws_iam_policy_document" "datasync" {
  statement {
    sid       = "ListModelBucket"
    actions   = ["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"]
    resources = [aws_s3_bucket.models.arn]
  }

  statement {
    sid       = "ReadModels"
    actions   = ["s3:GetObject", "s3:GetObjectTagging", "s3:ListMultipartUploadParts"]
    resources = ["${aws_s3_bucket.models.arn}/${var.model_key}/*"]
  }
}

resource "aws_iam_role_policy" "datasync" {
  count = local.efs_count

  name   = "${var.name_prefix}-datasync"
  role   = aws_iam_role.datasync[0].id
  policy = data.aws_iam_policy_document.datasync.json
}
