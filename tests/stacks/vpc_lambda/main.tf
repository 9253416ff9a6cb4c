# A function in a VPC and nothing else it does not need: VPC, two subnets, a security group, the
# function's role. On AWS (and on the local target with a Lambda ENI release delay) the function's
# network interfaces outlive it, so destroying the subnets and the security group waits for them.
terraform {
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 3.39"
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

variable "lambda_zip_path" {
  type = string
}

variable "lambda_handler" {
  type = string
}

variable "lambda_runtime" {
  type = string
}

resource "aws_vpc" "this" {
  cidr_block = "10.43.0.0/16"
  tags = {
    Name = "${var.name_prefix}-vpc"
  }
}

resource "aws_subnet" "private" {
  count      = 2
  vpc_id     = aws_vpc.this.id
  cidr_block = cidrsubnet("10.43.0.0/16", 8, count.index)
  tags = {
    Name = "${var.name_prefix}-private-${count.index}"
  }
  timeouts {
    delete = "45m" # the function's ENIs hold the subnet for up to ~40 min on AWS
  }
}

resource "aws_security_group" "lambda" {
  name   = "${var.name_prefix}-lambda"
  vpc_id = aws_vpc.this.id
  tags = {
    Name = "${var.name_prefix}-lambda"
  }
  timeouts {
    delete = "45m"
  }
}

resource "aws_iam_role" "lambda" {
  name = "${var.name_prefix}-lambda"
  assume_role_policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = "sts:AssumeRole", Principal = { Service = "lambda.amazonaws.com" } }]
  })
  tags = {
    Name = "${var.name_prefix}-lambda"
  }
}

resource "aws_lambda_function" "this" {
  function_name = "${var.name_prefix}-fn"
  filename      = var.lambda_zip_path
  handler       = var.lambda_handler
  runtime       = var.lambda_runtime
  role          = aws_iam_role.lambda.arn
  vpc_config {
    subnet_ids         = aws_subnet.private[*].id
    security_group_ids = [aws_security_group.lambda.id]
  }
  tags = {
    Name = "${var.name_prefix}-fn"
  }
}

output "function_name" {
  value = aws_lambda_function.this.function_name
}
