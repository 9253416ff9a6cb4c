# Inputs the plugin sets (the contract: docs/contract.md in the pytest-mlinfra repository), then knobs with safe defaults.

variable "run_id" {
  description = "Short unique id of this test run; tagged as mlinfra:run-id so leftovers can be found."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9]{4,16}$", var.run_id))
    error_message = "The run_id must be 4-16 lowercase letters or digits."
  }
}

variable "name_prefix" {
  description = "Prefix of every resource name, so two runs (or two xdist workers) never collide."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}[a-z0-9]$", var.name_prefix))
    error_message = "The name_prefix must be 3-32 chars of lowercase letters, digits and hyphens (it names an S3 bucket)."
  }
}

variable "tags" {
  description = "Cost tags every taggable resource carries (e.g. Environment, Project, Owner)."
  type        = map(string)
  default     = {}
}

variable "region" {
  description = "AWS region to deploy into."
  type        = string
  default     = "us-east-1"
}

variable "lambda_zip_path" {
  description = "Path of the predictor's deployment package (a zip the plugin builds from the handler dir)."
  type        = string

  validation {
    condition     = can(regex("\\.zip$", var.lambda_zip_path))
    error_message = "The lambda_zip_path must point at a .zip file."
  }
}

variable "lambda_handler" {
  description = "Handler of the predictor, module.function."
  type        = string
  default     = "model.predict"
}

variable "lambda_runtime" {
  description = "Lambda runtime identifier (the plugin passes the one the run declares)."
  type        = string
  default     = "python3.13"
}

variable "lambda_memory_mb" {
  description = "Memory of the predictor in MB (also scales its CPU share on AWS)."
  type        = number
  default     = 1024

  validation {
    condition     = var.lambda_memory_mb >= 128 && var.lambda_memory_mb <= 10240
    error_message = "The lambda_memory_mb must be between 128 and 10240."
  }
}

variable "lambda_timeout_s" {
  description = "Timeout of one invocation in seconds."
  type        = number
  default     = 30

  validation {
    condition     = var.lambda_timeout_s >= 1 && var.lambda_timeout_s <= 900
    error_message = "The lambda_timeout_s must be between 1 and 900."
  }
}

variable "enable_efs" {
  description = "Serve the model from EFS, synced by DataSync. False: the function reads it from S3 at cold start."
  type        = bool
  default     = true
}

variable "model_key" {
  description = "S3 key prefix the model is uploaded under (no leading or trailing slash)."
  type        = string
  default     = "models/ner"

  validation {
    condition     = can(regex("^[A-Za-z0-9][A-Za-z0-9_./-]*[A-Za-z0-9]$", var.model_key))
    error_message = "The model_key must be a key prefix without leading or trailing slash."
  }
}

variable "model_file" {
  description = "File name of the model under model_key (the plugin passes the artifact's own name)."
  type        = string
  default     = "model.pt"

  validation {
    condition     = can(regex("^[A-Za-z0-9][A-Za-z0-9_.-]*$", var.model_file))
    error_message = "The model_file must be a plain file name (no slash)."
  }
}

variable "vpc_cidr" {
  description = "CIDR block of the stack's VPC."
  type        = string
  default     = "10.42.0.0/16"
}

variable "log_retention_days" {
  description = "Retention of the function's and DataSync's log groups."
  type        = number
  default     = 14
}
