"""Every moto internal the emulator relies on, named in one place.

moto's maintainers call its backends and server plumbing non-public (getmoto/moto#5232, #6105),
and each release may move them. The emulator reaches them only through this module, and
``tests/emulator/test_moto_surface.py`` checks each entry of :data:`SURFACE` against the installed
moto, failing with the sentence below when one moved: that is where to look after a moto upgrade.
The supported range is pyproject's ``moto[server]`` requirement; the canary (``tox -e latest``)
tries the newest release.
"""

from __future__ import annotations

import importlib
from typing import Any

# (module, attribute, what the emulator uses it for): the whole private surface.
SURFACE: tuple[tuple[str, str, str], ...] = (
    ("moto.moto_server.werkzeug_app", "create_backend_app", "the WSGI app of each service (server.py)"),
    ("moto.moto_server.werkzeug_app", "DomainDispatcherApplication", "moto's host -> service dispatcher"),
    ("moto.moto_server.werkzeug_app", "MotoRequestHandler", "the request handler of moto's server"),
    ("moto.core.base_backend", "BackendDict", "registering extended backends; reset on stop"),
    ("moto.core.resource_tagging", "TaggableResourcesMixin", "DataSync and IAM in GetResources"),
    ("moto.core.resource_tagging", "TaggedResource", "DataSync and IAM in GetResources"),
    ("moto.iam.models", "get_account_id_from", "the account of a request's access key"),
    ("moto.datasync.models", "DataSyncBackend", "DataSync backend (locations, tasks, executions)"),
    ("moto.efs.models", "EFSBackend", "EFS backend (file systems, access points, mount targets)"),
    ("moto.awslambda.models", "LambdaBackend", "Lambda backend (functions, invoke)"),
    ("moto.awslambda.models", "LambdaFunction", "Lambda functions (configuration, code bytes)"),
    ("moto.ec2.models", "EC2Backend", "EC2 backend (subnets, security groups, ENIs)"),
    ("moto.s3.models", "S3Backend", "S3 backend (default encryption, objects DataSync reads)"),
    ("moto.iam.models", "IAMBackend", "IAM backend (managed policies, roles in GetResources)"),
    ("moto.awslambda.models", "lambda_backends", "functions behind function URLs, HTTP APIs, SNS"),
    ("moto.apigatewayv2.models", "apigatewayv2_backends", "HTTP API routes, integrations and stages"),
    ("moto.sns.models", "SNSBackend", "SNS backend (Lambda subscriptions invoked asynchronously)"),
    ("moto.sns.models", "Subscription", "SNS subscriptions (their endpoint and protocol)"),
)


def missing() -> list[str]:
    """One sentence per entry of :data:`SURFACE` the installed moto no longer has."""
    found = []
    for module_name, attribute, use in SURFACE:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            found.append(f"moto moved or removed module {module_name} (used for {use})")
            continue
        if not hasattr(module, attribute):
            found.append(f"moto moved or removed {module_name}.{attribute} (used for {use})")
    return found


def account_id_for(access_key: str) -> str:
    """The account moto files a request under: the key's IAM account, else moto's default account."""
    from moto.iam.models import get_account_id_from

    return str(get_account_id_from(access_key))


def url_module(service: str) -> Any:
    """moto's URL table of ``service``: a backend subclass living outside moto must point at it, since
    moto derives it from the backend class's module name."""
    return importlib.import_module(f"moto.{service}.urls")


def error_fields(exc: BaseException) -> tuple[str, str, int] | None:
    """(code, message, HTTP status) of a moto service exception, whatever its moto generation.

    moto <= 5.2.5 raises ``JsonRESTError`` (``error_type``, ``message``, integer ``code``); services
    migrated in 5.2.6 raise ``ServiceException`` (``code`` is the error code, status 400 unless the
    service model says otherwise). None: not a moto service error.
    """
    code = getattr(exc, "code", None)
    message = getattr(exc, "message", None)
    error_type = getattr(exc, "error_type", None)
    if isinstance(error_type, str) and isinstance(code, int):
        return error_type, str(message or ""), code
    if isinstance(code, str) and isinstance(message, str):
        return code, message, int(getattr(exc, "status_code", 400) or 400)
    return None


ALLOW_UNTESTED_ENV = "MLINFRA_ALLOW_UNTESTED_MOTO"


def supported_range() -> str:
    """pyproject's moto requirement as installed (``>=5.2.5,<5.3``); one source of truth."""
    from importlib.metadata import PackageNotFoundError, requires

    try:
        declared = requires("pytest-mlinfra") or []
    except PackageNotFoundError:
        return ""
    from packaging.requirements import Requirement

    for line in declared:
        requirement = Requirement(line)
        if requirement.name == "moto":
            # lower bound first, as people write it: ">=5.2.5,<5.3"
            return ",".join(sorted(map(str, requirement.specifier), key=lambda item: item[0] != ">"))
    return ""


def check_moto_version() -> None:
    """Refuse, in one line, a moto outside the range this release was tested with.

    ``MLINFRA_ALLOW_UNTESTED_MOTO=1`` turns the refusal into a warning (the canary uses it to try
    releases past the cap).
    """
    import os
    import sys
    from importlib.metadata import PackageNotFoundError, version

    from pytest_mlinfra.errors import MlinfraError

    wanted = supported_range()
    try:
        found = version("moto")
    except PackageNotFoundError:
        raise MlinfraError(
            "the local target needs moto, which is not installed",
            f"install it with: pip install 'moto[server]{wanted}'",
        ) from None
    if not wanted:
        return
    from packaging.specifiers import SpecifierSet

    if SpecifierSet(wanted).contains(found, prereleases=True):
        return
    what = f"moto {found} is installed; the local target is tested with moto{wanted}"
    if os.environ.get(ALLOW_UNTESTED_ENV, "").strip() not in ("", "0"):
        print(f"mlinfra: warning: {what} ({ALLOW_UNTESTED_ENV} is set)", file=sys.stderr)
        return
    raise MlinfraError(
        what,
        f"install a tested release: pip install 'moto[server]{wanted}' "
        f"(or set {ALLOW_UNTESTED_ENV}=1 to try this one anyway)",
    )
