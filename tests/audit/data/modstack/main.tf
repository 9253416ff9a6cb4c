provider "aws" {
  region = "us-east-1"
  default_tags {
    tags = var.tags
  }
}

variable "tags" {
  type    = map(string)
  default = {}
}

variable "enable_flow_logs" {
  type    = bool
  default = false
}

variable "replicate" {
  type    = bool
  default = false
}

variable "buckets" {
  type = map(object({ tier = string }))
  default = {
    raw     = { tier = "bronze" }
    curated = { tier = "gold" }
  }
}

locals {
  name = "ml"
  azs  = ["us-east-1a", "us-east-1b", "us-east-1c"]
}

module "network" {
  source           = "./modules/network"
  name             = local.name
  azs              = local.azs
  enable_flow_logs = var.enable_flow_logs
  tags             = var.tags
}

module "replica" {
  source = "./modules/bucket"
  count  = var.replicate ? 1 : 0
  name   = "${local.name}-replica"
}

resource "aws_s3_bucket" "data" {
  for_each = var.buckets
  bucket   = "${local.name}-${each.key}"
  tags = {
    Name = "${local.name}-${each.key}"
    Tier = each.value.tier
  }
}

data "aws_availability_zones" "all" {}

# Whether this exists depends on what the data source answers: not decidable from the source.
resource "aws_sns_topic" "alerts" {
  count = length(data.aws_availability_zones.all.names) > 2 ? 1 : 0
  name  = "${local.name}-alerts"
}
