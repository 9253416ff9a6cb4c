# No resources: names derived from the prefix, passed up to the module that calls it.
variable "name_prefix" {
  type = string
}

variable "purpose" {
  type = string
}

output "name" {
  value = "${var.name_prefix}-${var.purpose}"
}
