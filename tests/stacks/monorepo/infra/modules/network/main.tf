# The shapes of terraform-aws-modules/vpc v3.x, in miniature: list inputs with `length(...) > 0`
# count gates chained with `&&`, locals over them, legacy splats through element(concat(...)), and
# resources gated off by default that carry no tags (an audit that evaluates the gates wrongly
# reports them). Outputs go up to the root.
variable "name_prefix" {
  type = string
}

variable "create" {
  type = bool
}

variable "private_subnets" {
  description = "CIDRs of the private subnets (the root passes a `for` expression)."
  type        = list(string)
}

variable "azs" {
  description = "Availability zones (the root passes a slice of a data source: unknown until plan)."
  type        = list(string)
}

variable "public_subnets" {
  description = "CIDRs of public subnets: none by default, so the gateway and public subnets are off."
  type        = list(string)
  default     = []
}

locals {
  max_subnet_length = max(length(var.private_subnets), length(var.public_subnets))
  vpc_id            = element(concat(aws_vpc.this.*.id, [""]), 0)
}

resource "aws_vpc" "this" {
  count      = var.create ? 1 : 0
  cidr_block = "10.60.0.0/16"
  tags = {
    Name = "${var.name_prefix}-vpc"
  }
}

resource "aws_subnet" "private" {
  count             = var.create && length(var.private_subnets) > 0 ? length(var.private_subnets) : 0
  vpc_id            = local.vpc_id
  cidr_block        = var.private_subnets[count.index]
  availability_zone = element(var.azs, count.index)
  tags = {
    Name = "${var.name_prefix}-private-${count.index}"
  }
}

resource "aws_route_table" "private" {
  count  = var.create && local.max_subnet_length > 0 ? 1 : 0
  vpc_id = local.vpc_id
  tags = {
    Name = "${var.name_prefix}-private"
  }
}

resource "aws_route_table_association" "private" {
  count          = var.create ? length(var.private_subnets) : 0
  subnet_id      = element(aws_subnet.private.*.id, count.index)
  route_table_id = element(aws_route_table.private.*.id, 0)
}

# Off by default (no public subnets); untagged on purpose, see above.
resource "aws_subnet" "public" {
  count      = var.create && length(var.public_subnets) > 0 && length(var.public_subnets) <= length(var.azs) ? length(var.public_subnets) : 0
  vpc_id     = local.vpc_id
  cidr_block = var.public_subnets[count.index]
}

resource "aws_internet_gateway" "this" {
  count  = var.create && length(var.public_subnets) > 0 ? 1 : 0
  vpc_id = local.vpc_id
}

output "vpc_id" {
  value = var.create ? aws_vpc.this[0].id : null
}

output "subnet_ids" {
  value = aws_subnet.private[*].id
}

output "private_route_table_ids" {
  value = aws_route_table.private[*].id
}
