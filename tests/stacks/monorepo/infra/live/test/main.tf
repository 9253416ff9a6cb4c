# Root module of the monorepo test stack: everything it creates comes from local modules outside this folder.
terraform {
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "3.39.0" # the 3.x module shapes (source_json etc.), the floor
    }
  }
}

provider "aws" {
  region = var.region
  default_tags {
    tags = merge(var.tags, { "mlinfra:run-id" = var.run_id })
  }
}

variable "run_id" {
  type = string
}

variable "name_prefix" {
  type = string
}

variable "region" {
  type    = string
  default = "us-east-1"
}

variable "tags" {
  type    = map(string)
  default = {}
}

variable "create_network" {
  description = "Count gate: the network module creates its VPC and subnets only when true."
  type        = bool
  default     = true
}

module "storage" {
  source      = "../../modules/storage"
  name_prefix = var.name_prefix
  versioning  = false
}

data "aws_availability_zones" "available" {
  state = "available"
}

module "network" {
  source          = "../../modules/network"
  name_prefix     = var.name_prefix
  create          = var.create_network
  azs             = slice(data.aws_availability_zones.available.names, 0, 2)
  private_subnets = [for i in range(2) : cidrsubnet("10.60.0.0/16", 8, i)]
}

output "bucket_name" {
  value = module.storage.bucket_name
}

output "model_key" {
  value = module.storage.model_key
}

output "vpc_id" {
  value = module.network.vpc_id
}

output "subnet_ids" {
  value = module.network.subnet_ids
}

output "private_route_table_ids" {
  value = module.network.private_route_table_ids
}
