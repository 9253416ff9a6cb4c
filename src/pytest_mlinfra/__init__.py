"""pytest-mlinfra: acceptance tests for Terraform-deployed ML predictors.

The pytest plugin lives in :mod:`pytest_mlinfra.plugin`; everything below it (targets, the
Terraform toolchain and stack, the embedded AWS, model sync, predictor client, strategies and the
cost-tag audit) is plain Python that works without pytest.
"""

from pytest_mlinfra.errors import MlinfraError

__version__ = "0.1.0"
__all__ = ["MlinfraError", "__version__"]
