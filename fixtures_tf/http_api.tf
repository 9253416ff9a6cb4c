# An HTTP API in front of the predictor, off by default (enable_http_api; pytest-mlinfra sets it with
# --mlinfra-http-api): POST /predict on the $default stage, Lambda proxy with payload format 2.0,
# and the permission API Gateway needs to call the function. Plain resources that hashicorp/aws 3.39
# already has (a function URL needs 4.x+), so the stack keeps initialising with the offline toolchain.

variable "enable_http_api" {
  description = "Put an API Gateway HTTP API (POST /predict) in front of the predictor; its URL is output http_url."
  type        = bool
  default     = false
}

locals {
  http_api_count = var.enable_http_api ? 1 : 0
}

resource "aws_apigatewayv2_api" "predictor" {
  count         = local.http_api_count
  name          = "${var.name_prefix}-api"
  protocol_type = "HTTP"

  tags = {
    Name = "${var.name_prefix}-api"
  }
}

resource "aws_apigatewayv2_integration" "predictor" {
  count                  = local.http_api_count
  api_id                 = aws_apigatewayv2_api.predictor[0].id
  integration_type       = "AWS_PROXY"
  integration_uri        = aws_lambda_function.predictor.invoke_arn
  payload_format_version = "2.0"
}

resource "aws_apigatewayv2_route" "predict" {
  count     = local.http_api_count
  api_id    = aws_apigatewayv2_api.predictor[0].id
  route_key = "POST /predict"
  target    = "integrations/${aws_apigatewayv2_integration.predictor[0].id}"
}

resource "aws_apigatewayv2_stage" "default" {
  count       = local.http_api_count
  api_id      = aws_apigatewayv2_api.predictor[0].id
  name        = "$default"
  auto_deploy = true

  tags = {
    Name = "${var.name_prefix}-api"
  }
}

# Without it API Gateway answers 500 {"message":"Internal Server Error"} to every request.
resource "aws_lambda_permission" "http_api" {
  count         = local.http_api_count
  statement_id  = "AllowHttpApi"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.predictor.function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.predictor[0].execution_arn}/*/*"
}

output "http_url" {
  description = "URL of POST /predict on the HTTP API (null without enable_http_api); mlinfra_http calls it."
  value       = var.enable_http_api ? "${aws_apigatewayv2_stage.default[0].invoke_url}predict" : null
}
