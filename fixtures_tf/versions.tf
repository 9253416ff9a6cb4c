terraform {
  required_version = ">= 1.0"

  required_providers {
    # 3.39 is what the offline toolchain ships; nothing here needs newer, and nothing breaks on 4.x/5.x.
    aws = {
      source  = "hashicorp/aws"
      version = ">= 3.39"
    }
  }
}

provider "aws" {
  region = var.region

  # Cost tags on everything the provider can tag; resources add only their own Name.
  default_tags {
    tags = local.cost_tags
  }
}
