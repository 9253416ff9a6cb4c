# The inputs pytest-mlinfra passes to the bundled stack (fixtures_tf/), for auditing it without pytest:
#   mlinfra audit fixtures_tf/ --var-file examples/nightly-audit/ci.tfvars --require Name,Environment,Project,Owner
# `tags` is what the plugin derives from its settings (mlinfra_environment, mlinfra_project, the user);
# run_id and name_prefix are per run, so any valid value does.
run_id          = "ci0001"
name_prefix     = "mlinfra-ci0001"
lambda_zip_path = "build/predictor.zip"
tags = {
  Environment = "test"
  Project     = "pytest-mlinfra"
  Owner       = "ci"
}
