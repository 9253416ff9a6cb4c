"""Input variables for the static audit, read the way Terraform reads them.

Precedence (later wins), as in Terraform: ``TF_VAR_name`` environment variables, ``terraform.tfvars``,
``terraform.tfvars.json``, ``*.auto.tfvars`` / ``*.auto.tfvars.json`` in lexical order, then every
``-var`` and ``-var-file`` in command-line order. Values from the command line and the environment
are strings until the variable's declared type is known: a primitive type (or no type) takes the
string literally, any other type parses it as an HCL expression (JSON is one), like ``-var`` does.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_mlinfra.audit.hcl_expr import PartialMap, Unknown, evaluate, evaluate_expression
from pytest_mlinfra.errors import MlinfraError

_PRIMITIVE = {"string", "number", "bool"}
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


@dataclass(frozen=True)
class RawValue:
    """A ``-var``/``TF_VAR_`` string, parsed only once the variable's declared type is known."""

    text: str
    origin: str  # "-var tags" or "TF_VAR_tags", for error messages


def _no_references(root: str, name: str) -> Unknown:
    return Unknown(f"{root}.{name}: variable values cannot refer to other values")


def parse_var_option(item: str) -> tuple[str, RawValue]:
    """``NAME=VALUE`` as given to ``--var`` (the value may itself contain ``=``)."""
    name, sep, text = item.partition("=")
    name = name.strip()
    if not sep or not _NAME.match(name):
        raise MlinfraError(
            f"--var {item!r} is not NAME=VALUE",
            "write it as --var NAME=VALUE, e.g. --var 'tags={Env=\"ci\"}'",
        )
    return name, RawValue(text, f"--var {name}")


def environment_variables(environ: Mapping[str, str]) -> dict[str, RawValue]:
    """``TF_VAR_name`` values from an environment mapping (lowest precedence)."""
    return {
        key[len("TF_VAR_") :]: RawValue(value, key)
        for key, value in environ.items()
        if key.startswith("TF_VAR_") and len(key) > len("TF_VAR_")
    }


def load_var_file(path: Path) -> dict[str, Any]:
    """A ``.tfvars`` (HCL) or ``.tfvars.json`` file as evaluated values; bad files raise MlinfraError."""
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise MlinfraError(f"cannot read the variables file {path} ({exc})", "check the path") from None
    if path.name.endswith(".json"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise MlinfraError(
                f"{path} is not valid JSON ({exc.msg} at line {exc.lineno})", "fix the variables file"
            ) from None
        except RecursionError:
            raise MlinfraError(f"{path} is nested too deeply", "fix the variables file") from None
        if not isinstance(data, dict):
            raise MlinfraError(f"{path} is not a JSON object of variable values", "fix the variables file")
        return dict(data)
    from pytest_mlinfra.audit.static import load_hcl_file

    values: dict[str, Any] = {}
    for key, raw in load_hcl_file(path).items():
        if isinstance(raw, list) and raw and all(isinstance(b, dict) and b.get("__is_block__") for b in raw):
            raise MlinfraError(
                f"{path}: {key} is a block; a variables file holds only NAME = VALUE lines",
                "fix the variables file",
            )
        values[key] = evaluate(raw, _no_references)
    return values


def stack_var_files(directory: Path) -> list[Path]:
    """The files Terraform loads by itself from the root module directory, in precedence order."""
    names = ["terraform.tfvars", "terraform.tfvars.json"]
    auto = sorted(
        p.name for p in directory.iterdir() if p.name.endswith((".auto.tfvars", ".auto.tfvars.json"))
    )
    return [directory / name for name in [*names, *auto] if (directory / name).is_file()]


def resolve_raw(name: str, raw: RawValue, type_text: Any) -> Any:
    """Parse a command-line/environment string per the declared type (literal for primitives)."""
    type_name = _type_name(type_text)
    if type_name is None or type_name in _PRIMITIVE:
        return convert(name, raw.text, type_text, raw.origin)
    value = evaluate_expression(raw.text, _no_references)
    if isinstance(value, Unknown):
        raise MlinfraError(
            f"{raw.origin}: the value is not a valid HCL/JSON value ({value.reason})",
            f"quote it for the shell, e.g. --var '{name}={{Environment=\"ci\"}}'",
        )
    return value


def convert(name: str, value: Any, type_text: Any, origin: str) -> Any:
    """Convert to a primitive declared type as Terraform does ("false" -> false for a bool)."""
    type_name = _type_name(type_text)
    if isinstance(value, Unknown | PartialMap) or type_name not in _PRIMITIVE:
        return value
    if type_name == "string" and isinstance(value, int | float | bool):
        return ("true" if value else "false") if isinstance(value, bool) else str(value)
    if type_name == "bool" and isinstance(value, str):
        if value in ("true", "false"):
            return value == "true"
        raise MlinfraError(f"{origin}: var.{name} must be a bool, got {value!r}", "give true or false")
    if type_name == "number" and isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            try:
                return float(value)
            except ValueError:
                raise MlinfraError(
                    f"{origin}: var.{name} must be a number, got {value!r}", "give a number"
                ) from None
    return value


def _type_name(type_text: Any) -> str | None:
    """``"${map(string)}"`` / ``"bool"`` (python-hcl2's spelling) -> ``map`` / ``bool``."""
    if not isinstance(type_text, str):
        return None
    text = type_text.strip()
    if text.startswith("${") and text.endswith("}"):
        text = text[2:-1]
    return text.split("(", 1)[0].strip() or None
