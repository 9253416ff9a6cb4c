# The predictor. With EFS it runs in the VPC and mounts the access point at /mnt/shared-storage;
# without EFS (LocalStack Community) it stays out of the VPC and fetches the model from S3 at cold start.

resource "aws_cloudwatch_log_group" "lambda" {
  name              = "/aws/lambda/${local.function_name}"
  retention_in_days = var.log_retention_days

  tags = {
    Name = local.function_name
  }
}

resource "aws_lambda_function" "predictor" {
  function_name    = local.function_name
  description      = "Named-entity predictor under test (run ${var.run_id})"
  filename         = var.lambda_zip_path
  source_code_hash = filebase64sha256(var.lambda_zip_path)
  handler          = var.lambda_handler
  runtime          = var.lambda_runtime
  memory_size      = var.lambda_memory_mb
  timeout          = var.lambda_timeout_s
  role             = aws_iam_role.lambda.arn

  environment {
    # Packages too big for a zip or layers (torch: 754 MB; the limit is 250 MB unzipped) live on the
    # same file system: synced with the model by DataSync, imported through PYTHONPATH on the mount.
    variables = var.enable_efs ? {
      MODEL_DIR  = local.efs_mount_path
      MODEL_FILE = var.model_file
      PYTHONPATH = "${local.efs_mount_path}/python"
      } : {
      MODEL_DIR    = "/tmp/model"
      MODEL_FILE   = var.model_file
      MODEL_S3_URI = "s3://${aws_s3_bucket.models.id}/${var.model_key}/${var.model_file}"
    }
  }

  dynamic "vpc_config" {
    for_each = var.enable_efs ? [1] : []
    content {
      subnet_ids         = aws_subnet.private[*].id
      security_group_ids = [aws_security_group.lambda.id]
    }
  }

  dynamic "file_system_config" {
    for_each = var.enable_efs ? [1] : []
    content {
      arn              = aws_efs_access_point.lambda[0].arn
      local_mount_path = local.efs_mount_path
    }
  }

  tags = {
    Name = local.function_name
  }

  # The mount targets must exist before a function can mount the file system.
  depends_on = [aws_efs_mount_target.models, aws_cloudwatch_log_group.lambda, aws_iam_role_policy.lambda]
}
