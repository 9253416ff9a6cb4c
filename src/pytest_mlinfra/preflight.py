"""Pre-flight: what would make a deploy fail, found before anything is deployed, as one line each.

Before init (reads the stack's HCL, no Terraform): a variable the stack requires that the plugin
cannot set, and the contract outputs that the requested fixtures need but the stack does not
declare. After init: ``terraform validate`` errors with file:line, skipped when the same
configuration (same files, same Terraform, same providers) already validated on this machine, so
an unchanged stack pays only for hashing its files.

The checks of settings alone (handler module, model file present and not empty, the model check's
spelling) run from :meth:`Settings.validate`, at pytest start-up: this module imports nothing heavy
until a stack is checked. The user's model check (``mlinfra_model_check = module:function``, which
may import torch) runs with the other pre-flight checks, only in sessions that sync the model.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import sys
import time
from collections.abc import Collection, Iterable, Mapping
from pathlib import Path
from typing import Any

from pytest_mlinfra.errors import MlinfraError

# The plugin's inputs that exist only when a setting is given, and the setting that gives them.
SETTING_FOR_VARIABLE = {"lambda_zip_path": ("--mlinfra-handler-dir", "mlinfra_handler_dir")}

# Contract outputs each public fixture reads (fixtures that need the model also need its outputs).
MODEL_OUTPUTS = ("bucket_name", "model_key")
EFS_MODEL_OUTPUTS = ("datasync_task_arn", "efs_file_system_id")
PACKAGE_OUTPUTS = ("efs_mount_path",)  # EFS packages go to <mount>/python, on the function's PYTHONPATH
FUNCTION_OUTPUTS = ("function_name",)
MODEL_FIXTURES = frozenset({"mlinfra_model", "mlinfra_function", "ner_predictor"})
FUNCTION_FIXTURES = frozenset({"mlinfra_function", "ner_predictor"})


def _name(label: str) -> str:
    return label.strip('"')


def required_variables(stack_dir: Path) -> list[str]:
    """Variables of the root module without a default (Terraform asks for these)."""
    from pytest_mlinfra.terraform.hcl import blocks  # python-hcl2: only when a stack is deployed

    names = []
    for block in blocks(stack_dir, "variable", strict=False):
        for label, body in block.items():
            if isinstance(body, dict) and "default" not in body:
                names.append(_name(label))
    return sorted(names)


def declared_outputs(stack_dir: Path) -> set[str]:
    from pytest_mlinfra.terraform.hcl import blocks

    return {_name(label) for block in blocks(stack_dir, "output", strict=False) for label in block}


def check_variables(stack_dir: Path, given: Mapping[str, Any], env: Mapping[str, str] | None = None) -> None:
    """A required variable that neither the plugin nor a ``TF_VAR_`` environment variable sets."""
    env = os.environ if env is None else env
    for name in required_variables(stack_dir):
        if name in given or f"TF_VAR_{name}" in env:
            continue
        setting = SETTING_FOR_VARIABLE.get(name)
        if setting is not None:
            option, ini = setting
            raise MlinfraError(
                f"the stack {stack_dir} requires variable {name}, which the plugin sets from {option}",
                f"add {option}=DIR (ini {ini}) pointing at the folder holding your handler",
            )
        raise MlinfraError(
            f"the stack {stack_dir} requires variable {name} (no default), which the plugin does not set",
            f"give it a default in the stack or export TF_VAR_{name}=VALUE",
        )


def needed_outputs(fixtures: Collection[str], model_on_efs: bool, efs_packages: bool = False) -> list[str]:
    """The contract outputs the requested fixtures read (``efs_packages``: packages synced with the model)."""
    needed: list[str] = []
    if MODEL_FIXTURES & set(fixtures):
        needed += MODEL_OUTPUTS
        if model_on_efs:
            needed += EFS_MODEL_OUTPUTS
            if efs_packages:
                needed += PACKAGE_OUTPUTS
    if FUNCTION_FIXTURES & set(fixtures):
        needed += FUNCTION_OUTPUTS
    return needed


def check_outputs(
    stack_dir: Path,
    fixtures: Collection[str],
    model_on_efs: bool,
    have: Collection[str] | None = None,
    needed: Collection[str] | None = None,
    efs_packages: bool = False,
) -> None:
    """The contract outputs ``fixtures`` read that the stack does not declare, as one line.

    ``have``: the outputs of the applied stack (plain :class:`~pytest_mlinfra.run.Run` users, whose
    fixtures are not known before the deploy); default: the outputs the stack's files declare.
    ``needed``: only these outputs (default: all that the fixtures read)."""
    present = declared_outputs(stack_dir) if have is None else set(have)
    wanted = needed_outputs(fixtures, model_on_efs, efs_packages) if needed is None else list(needed)
    missing = [name for name in wanted if name not in present]
    if not missing:
        return
    users = sorted((MODEL_FIXTURES | FUNCTION_FIXTURES) & set(fixtures))
    if set(missing) & set(PACKAGE_OUTPUTS):
        users.append("mlinfra_efs_packages")
    efs = [name for name in missing if name in EFS_MODEL_OUTPUTS]
    todo = f"declare output {', '.join(missing)} in the stack (see docs/contract.md)"
    if efs and len(efs) == len(missing):
        todo += ", or serve the model from S3 with --mlinfra-model-source=s3"
    raise MlinfraError(
        f"the stack {stack_dir} lacks output {', '.join(missing)}, which {', '.join(users)} need(s)", todo
    )


def check_handler(handler_dir: Path, handler: str) -> None:
    """The module of ``module.function`` must be in the handler dir (a file or a package)."""
    module, _, function = handler.rpartition(".")
    if not module or not function:
        raise MlinfraError(
            f"handler {handler!r} is not module.function", "set --mlinfra-handler, e.g. model.predict"
        )
    relative = Path(*module.split("."))
    candidates = [handler_dir / relative.with_suffix(".py"), handler_dir / relative / "__init__.py"]
    compiled = list((handler_dir / relative).parent.glob(f"{relative.name}.*.so"))
    if not any(path.is_file() for path in candidates) and not compiled:
        raise MlinfraError(
            f"handler directory {handler_dir} has no module {module} (for handler {handler}): "
            f"no {relative.with_suffix('.py')} or {relative / '__init__.py'}",
            "point --mlinfra-handler-dir at the folder holding it, or fix --mlinfra-handler",
        )


# -- the model artifact ---------------------------------------------------------------------------------

_MODEL_CHECK = "--mlinfra-model-check (ini mlinfra_model_check)"
_LOADABLE = "point --mlinfra-model (ini mlinfra_model) at a model the function can load, or export it again"


def check_model_file(model_path: Path) -> None:
    """An empty artifact deploys the whole stack before the function fails to load it: refuse it."""
    if model_path.stat().st_size == 0:
        raise MlinfraError(
            f"model artifact {model_path} is empty (0 bytes)",
            "point --mlinfra-model (ini mlinfra_model) at the trained model file, or export it again",
        )


def parse_model_check(spec: str) -> tuple[str, str]:
    """``"module.sub:function"`` -> (module, function), or one line saying how to write it."""
    module, sep, function = spec.strip().partition(":")
    parts = [*module.split("."), function]
    if not sep or not all(part.isidentifier() for part in parts):
        raise MlinfraError(
            f"model check {spec!r} is not MODULE:FUNCTION",
            f"write {_MODEL_CHECK} as e.g. model:check_artifact (a function taking the model's path)",
        )
    return module, function


def check_model(spec: str, model_path: Path, search: Iterable[Path]) -> float:
    """Call the user's check on the artifact before anything is deployed; the seconds it took.

    The function takes the model's path and raises (or returns False) when the artifact does not
    load as the stack's function would load it. ``search``: folders its module is imported from
    (the handler dir, then the working directory)."""
    module_name, function_name = parse_model_check(spec)
    folders = [str(folder) for folder in search if str(folder) not in sys.path]
    sys.path[:0] = folders
    started = time.perf_counter()
    try:
        try:
            check = getattr(importlib.import_module(module_name), function_name)
        except (ImportError, AttributeError) as exc:
            raise MlinfraError(
                f"model check {spec} cannot be imported: {type(exc).__name__}: {exc}",
                f"fix {_MODEL_CHECK}; its module is imported from the handler dir or the working directory",
            ) from None
        try:
            verdict = check(model_path)
        except Exception as exc:  # any failure of the user's check is its verdict
            reason = (str(exc).strip().splitlines() or [""])[0][:300]
            raise MlinfraError(
                f"model artifact {model_path} fails its check {spec}: {type(exc).__name__}: {reason}",
                _LOADABLE,
            ) from None
        if verdict is False:
            raise MlinfraError(
                f"model artifact {model_path} fails its check {spec} (it returned False)", _LOADABLE
            )
    finally:
        for folder in folders:
            if folder in sys.path:
                sys.path.remove(folder)
    return time.perf_counter() - started


# -- terraform validate, skipped on an unchanged configuration ----------------------------------------

_NOT_CONFIGURATION = frozenset({".terraform", "terraform.tfstate", "terraform.tfstate.backup"})


def configuration_digest(root: Path, skip: Iterable[str], extra: Iterable[str]) -> str:
    """A hash of every file under ``root`` (the run dir copy) that can change what validate says.

    ``skip``: generated files whose content changes every run but not the verdict (the variables
    file: validate ignores variable values). ``extra``: Terraform version and the like.
    """
    skipped = set(skip) | _NOT_CONFIGURATION
    digest = hashlib.sha256()
    for part in extra:
        digest.update(part.encode() + b"\0")
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if any(part in skipped for part in relative.parts) or not path.is_file():
            continue
        digest.update(str(relative).encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


class ValidateCache:
    """Digests of configurations that validated cleanly (one empty file each)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def seen(self, digest: str) -> bool:
        return (self.folder / digest).exists()

    def remember(self, digest: str) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / digest).touch()
