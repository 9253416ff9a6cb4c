terraform {
  required_version = ">= 1.0"

  required_providers {
    # The floor: the bundled stack as it was written for hashicorp/aws 3.39 (inline S3 blocks), pinned
    # to 3.39.0 so that the users on old pins keep a tested path.
    aws = {
      source  = "hashicorp/aws"
      version = "= 3.39.0"
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
