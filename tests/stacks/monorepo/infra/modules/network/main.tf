variable "name_prefix" {
  type = string
}

variable "create" {
  type = bool
}

variable "subnets" {
  type = number
}

data "aws_availability_zones" "available" {
  state = "available"
}

resource "aws_vpc" "this" {
  count      = var.create ? 1 : 0
  cidr_block = "10.60.0.0/16"
  tags = {
    Name = "${var.name_prefix}-vpc"
  }
}

resource "aws_subnet" "private" {
  count             = var.create ? var.subnets : 0
  vpc_id            = aws_vpc.this[0].id
  cidr_block        = cidrsubnet(aws_vpc.this[0].cidr_block, 8, count.index)
  availability_zone = data.aws_availability_zones.available.names[count.index % length(data.aws_availability_zones.available.names)]
  tags = {
    Name = "${var.name_prefix}-private-${count.index}"
  }
}

output "vpc_id" {
  value = var.create ? aws_vpc.this[0].id : null
}

output "subnet_ids" {
  value = aws_subnet.private[*].id
}
