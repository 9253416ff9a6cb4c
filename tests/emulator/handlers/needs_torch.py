"""A handler whose module imports a package the deployment does not provide."""

import torch  # noqa: F401  (installed on the host, never in the package: must fail as on AWS)


def handler(event: object, context: object) -> dict[str, str]:
    return {"torch": "imported"}
