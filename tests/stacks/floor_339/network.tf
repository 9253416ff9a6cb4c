# A private VPC for the function and the file system: two subnets in real AZs, NFS only between them.

data "aws_availability_zones" "available" {
  state = "available"
}

# DNS hostnames stay off (the AWS default): Lambda and DataSync reach the EFS mount targets through
# their own network interfaces in the subnets, not by DNS name. (Turning them on also costs a fixed
# 10 s wait in provider 3.x after ModifyVpcAttribute.)
resource "aws_vpc" "this" {
  cidr_block         = var.vpc_cidr
  enable_dns_support = true

  tags = {
    Name = "${var.name_prefix}-vpc"
  }
}

resource "aws_subnet" "private" {
  count = local.subnet_count

  vpc_id            = aws_vpc.this.id
  cidr_block        = cidrsubnet(var.vpc_cidr, 8, count.index)
  availability_zone = data.aws_availability_zones.available.names[count.index]

  tags = {
    Name = "${var.name_prefix}-private-${count.index}"
  }

  # The function's network interfaces outlive it on AWS for up to ~40 min (P99 ~35 min,
  # hashicorp/terraform-provider-aws#10329); the provider waits for them within this timeout.
  timeouts {
    delete = "45m"
  }
}

resource "aws_security_group" "lambda" {
  name        = "${var.name_prefix}-lambda"
  description = "Predictor function: outbound NFS to the model file system"
  vpc_id      = aws_vpc.this.id

  egress {
    description = "NFS to EFS"
    from_port   = 2049
    to_port     = 2049
    protocol    = "tcp"
    cidr_blocks = [var.vpc_cidr]
  }

  tags = {
    Name = "${var.name_prefix}-lambda"
  }

  timeouts {
    delete = "45m" # held by the function's network interfaces, like the subnets
  }
}

resource "aws_security_group" "efs" {
  name        = "${var.name_prefix}-efs"
  description = "Model file system: NFS from the predictor and DataSync"
  vpc_id      = aws_vpc.this.id

  ingress {
    description     = "NFS from the predictor"
    from_port       = 2049
    to_port         = 2049
    protocol        = "tcp"
    security_groups = [aws_security_group.lambda.id]
  }

  ingress {
    description = "NFS from DataSync (its ENIs live in the subnet)"
    from_port   = 2049
    to_port     = 2049
    protocol    = "tcp"
    self        = true
  }

  egress {
    description = "NFS replies and DataSync agent traffic"
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    cidr_blocks = [var.vpc_cidr]
  }

  tags = {
    Name = "${var.name_prefix}-efs"
  }

  timeouts {
    delete = "45m" # like the subnets: the network interfaces of services in the VPC can hold it a while
  }
}
