terraform {
  required_version = ">= 1.0"

  required_providers {
    # 5.x: S3 through its split resources; the newest 5.x release accepts the newest runtimes AWS allows.
    # (tests/stacks/floor_339 is this stack as written for 3.39, the floor still tested.)
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.0"
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
