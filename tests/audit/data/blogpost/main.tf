# The Terraform from the blog post "Data Scientists should start using Terraform", as written:
# S3 bucket for the model, VPC from terraform-aws-modules, EFS for the Lambda, DataSync from S3 to EFS,
# the Lambda from terraform-aws-modules. Name/Environment tags are set by hand on most resources, but
# not on the EFS file system or the two DataSync locations, and the mount target gets tags it cannot take.

provider "aws" {
  region = "eu-central-1"
}

variable "environment" {
  type    = string
  default = "dev"
}

resource "aws_s3_bucket" "model_bucket" {
  bucket = "ner-model-bucket"
  acl    = "private"

  tags = {
    Name        = "ner-model-bucket"
    Environment = var.environment
  }
}

module "vpc" {
  source = "terraform-aws-modules/vpc/aws"

  name = "ner-vpc"
  cidr = "10.0.0.0/16"

  azs             = ["eu-central-1a", "eu-central-1b"]
  private_subnets = ["10.0.1.0/24", "10.0.2.0/24"]
  public_subnets  = ["10.0.101.0/24", "10.0.102.0/24"]

  enable_nat_gateway = true

  tags = {
    Name        = "ner-vpc"
    Environment = var.environment
  }
}

resource "aws_efs_file_system" "model_efs" {
  creation_token = "model-efs"
}

resource "aws_efs_mount_target" "model_target" {
  file_system_id  = aws_efs_file_system.model_efs.id
  subnet_id       = module.vpc.private_subnets[0]
  security_groups = [module.vpc.default_security_group_id]

  tags = {
    Name        = "model-efs-target"
    Environment = var.environment
  }
}

resource "aws_efs_access_point" "lambda_ap" {
  file_system_id = aws_efs_file_system.model_efs.id

  posix_user {
    gid = 1000
    uid = 1000
  }

  root_directory {
    path = "/lambda"
    creation_info {
      owner_gid   = 1000
      owner_uid   = 1000
      permissions = "0777"
    }
  }

  tags = {
    Name        = "lambda-access-point"
    Environment = var.environment
  }
}

resource "aws_iam_role" "datasync_role" {
  name = "datasync-s3-access"

  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Action    = "sts:AssumeRole"
      Effect    = "Allow"
      Principal = { Service = "datasync.amazonaws.com" }
    }]
  })

  tags = {
    Name        = "datasync-s3-access"
    Environment = var.environment
  }
}

resource "aws_datasync_location_s3" "model_source" {
  s3_bucket_arn = aws_s3_bucket.model_bucket.arn
  subdirectory  = "/models"

  s3_config {
    bucket_access_role_arn = aws_iam_role.datasync_role.arn
  }
}

resource "aws_datasync_location_nfs" "model_target" {
  server_hostname = aws_efs_mount_target.model_target.dns_name
  subdirectory    = "/lambda"

  on_prem_config {
    agent_arns = ["arn:aws:datasync:eu-central-1:123456789012:agent/agent-0b0addbeef44b3e5f"]
  }
}

resource "aws_datasync_task" "model_sync" {
  name                     = "model-sync"
  source_location_arn      = aws_datasync_location_s3.model_source.arn
  destination_location_arn = aws_datasync_location_nfs.model_target.arn

  options {
    bytes_per_second = -1
  }

  tags = {
    Name        = "model-sync"
    Environment = var.environment
  }
}

module "lambda_function" {
  source = "terraform-aws-modules/lambda/aws"

  function_name = "ner-predictor"
  handler       = "handler.predict"
  runtime       = "python3.8"
  memory_size   = 4096
  timeout       = 300

  create_package         = false
  local_existing_package = "lambda.zip"

  vpc_subnet_ids         = module.vpc.private_subnets
  vpc_security_group_ids = [module.vpc.default_security_group_id]
  attach_network_policy  = true

  file_system_arn              = aws_efs_access_point.lambda_ap.arn
  file_system_local_mount_path = "/mnt/shared-storage"

  tags = {
    Name        = "ner-predictor"
    Environment = var.environment
  }
}
