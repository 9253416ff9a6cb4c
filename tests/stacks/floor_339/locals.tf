locals {
  cost_tags = merge(var.tags, { "mlinfra:run-id" = var.run_id })

  efs_mount_path   = "/mnt/shared-storage"
  efs_root_path    = "/lambda"
  efs_count        = var.enable_efs ? 1 : 0
  function_name    = "${var.name_prefix}-predictor"
  subnet_count     = 2
  model_s3_subpath = "/${var.model_key}/"
}
