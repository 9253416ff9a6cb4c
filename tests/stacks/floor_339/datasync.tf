# DataSync copies s3://bucket/<model_key>/ into the access point's root on EFS. The post swapped
# source and destination and used the wrong location types; here S3 is the source, EFS the target.

resource "aws_cloudwatch_log_group" "datasync" {
  count = local.efs_count

  name              = "/aws/datasync/${var.name_prefix}"
  retention_in_days = var.log_retention_days

  tags = {
    Name = "${var.name_prefix}-datasync"
  }
}

resource "aws_datasync_location_s3" "models" {
  count = local.efs_count

  s3_bucket_arn = aws_s3_bucket.models.arn
  subdirectory  = local.model_s3_subpath

  s3_config {
    bucket_access_role_arn = aws_iam_role.datasync[0].arn
  }

  tags = {
    Name = "${var.name_prefix}-models-s3"
  }

  depends_on = [aws_iam_role_policy.datasync]
}

resource "aws_datasync_location_efs" "models" {
  count = local.efs_count

  # The mount target's ARN output waits for a mount target to exist, which DataSync needs.
  efs_file_system_arn = aws_efs_mount_target.models[0].file_system_arn
  subdirectory        = "${local.efs_root_path}/"

  ec2_config {
    subnet_arn          = aws_subnet.private[0].arn
    security_group_arns = [aws_security_group.efs.arn]
  }

  tags = {
    Name = "${var.name_prefix}-models-efs"
  }
}

resource "aws_datasync_task" "models" {
  count = local.efs_count

  name                     = "${var.name_prefix}-model-sync"
  source_location_arn      = aws_datasync_location_s3.models[0].arn
  destination_location_arn = aws_datasync_location_efs.models[0].arn
  cloudwatch_log_group_arn = aws_cloudwatch_log_group.datasync[0].arn

  options {
    verify_mode            = "ONLY_FILES_TRANSFERRED"
    preserve_deleted_files = "REMOVE"
    posix_permissions      = "NONE"
    uid                    = "NONE"
    gid                    = "NONE"
  }

  tags = {
    Name = "${var.name_prefix}-model-sync"
  }
}
