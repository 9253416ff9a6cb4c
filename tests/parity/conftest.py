"""The parity run needs the LocalStack of CI's LocalStack job (skipped with the reason when absent)."""

from tests.localstack.conftest import localstack_community, localstack_venv

__all__ = ["localstack_community", "localstack_venv"]
