# The outputs the plugin reads (the contract: docs/contract.md in the pytest-mlinfra repository). EFS/DataSync outputs are null without EFS.

output "bucket_name" {
  description = "S3 bucket the model is uploaded to."
  value       = aws_s3_bucket.models.id
}

output "model_key" {
  description = "S3 key prefix the model is uploaded under."
  value       = var.model_key
}

output "function_name" {
  description = "Name of the predictor Lambda function."
  value       = aws_lambda_function.predictor.function_name
}

output "function_arn" {
  description = "ARN of the predictor Lambda function."
  value       = aws_lambda_function.predictor.arn
}

output "efs_file_system_id" {
  description = "EFS file system holding the model (null without EFS)."
  value       = var.enable_efs ? aws_efs_file_system.models[0].id : null
}

output "efs_access_point_id" {
  description = "Access point the function mounts (null without EFS)."
  value       = var.enable_efs ? aws_efs_access_point.lambda[0].id : null
}

output "efs_root_path" {
  description = "Directory inside the file system that the access point exposes."
  value       = local.efs_root_path
}

output "datasync_task_arn" {
  description = "DataSync task copying the model from S3 to EFS (null without EFS)."
  value       = var.enable_efs ? aws_datasync_task.models[0].arn : null
}

output "efs_mount_path" {
  description = "Where the function sees the model directory."
  value       = local.efs_mount_path
}

output "region" {
  description = "Region the stack is deployed in."
  value       = var.region
}
