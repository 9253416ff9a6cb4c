"""Import pre-flight: what the handler imports that the deployed function would not have.

On AWS a missing module is a ``Runtime.ImportModuleError`` at the first invoke, after the whole
stack is deployed. Here the handler's module is read (no import: it may need torch), and with it
every module of the zip it imports, by a static scan of the module top level and the handler
function: imports inside ``try`` blocks and other functions are optional or lazy and not checked.
Each name must come from the zip (handler files and built requirements), the EFS packages, the
runtime's standard library or what the managed runtime ships (boto3 and its dependencies). Layers
cannot be seen from here: a function with layers gets no verdict on what is missing.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import zipfile
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from pytest_mlinfra.errors import MlinfraError

# What Lambda's managed Python runtimes have besides the standard library.
RUNTIME_MODULES = frozenset(
    {"boto3", "botocore", "s3transfer", "jmespath", "dateutil", "six", "urllib3", "awslambdaric", "bootstrap"}
)


@dataclass(frozen=True)
class Import:
    """One imported top-level name, where it is imported."""

    name: str
    where: str  # "file.py:LINE"


def zip_top_level(zip_path: Path) -> set[str]:
    """Top-level importable names in a Lambda zip (modules, packages, extension modules)."""
    names = set()
    with zipfile.ZipFile(zip_path) as archive:
        for entry in archive.namelist():
            first, _, rest = entry.partition("/")
            if rest or entry.endswith("/"):
                names.add(first)
            elif first.endswith((".py", ".pyc", ".so", ".pyd")):
                names.add(first.split(".", 1)[0])
    return names


def package_top_level(top_level: Iterable[str]) -> set[str]:
    """Importable names from distributions' first path components (``yaml``, ``_yaml``, ``six.py``)."""
    names = set()
    for part in top_level:
        if part.endswith((".dist-info", ".egg-info", ".data", ".pth")) or part == "bin":
            continue
        names.add(part.split(".", 1)[0])
    return names


@cache
def stdlib_names(python: str | None) -> frozenset[str]:
    """The standard library of ``python`` (3.10+ says so itself), else of this Python."""
    if python is not None:
        code = "import sys; print(' '.join(sorted(getattr(sys, 'stdlib_module_names', ()))))"
        try:
            out = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=30).stdout
        except (OSError, subprocess.SubprocessError):
            out = ""
        if out.split():
            return frozenset(out.split())
    return frozenset(sys.stdlib_module_names)


def _guarded(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    """Whether an import sits in a ``try`` (optional) or under ``if TYPE_CHECKING`` (never runs)."""
    child, parent = node, parents.get(node)
    while parent is not None:
        if isinstance(parent, ast.Try) and child in parent.body:
            return True
        if isinstance(parent, ast.If) and "TYPE_CHECKING" in ast.unparse(parent.test):
            return True
        child, parent = parent, parents.get(parent)
    return False


def _scanned(tree: ast.Module, function: str | None) -> list[ast.Import | ast.ImportFrom]:
    """The statements run at import and, for the handler's module, in the handler function."""
    scopes: list[ast.AST] = [tree]
    for statement in tree.body:
        if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef)) and statement.name == function:
            scopes.append(statement)
    found: list[ast.Import | ast.ImportFrom] = []
    for scope in scopes:
        todo = list(ast.iter_child_nodes(scope))
        while todo:
            node = todo.pop()
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                found.append(node)
            elif not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
                todo.extend(ast.iter_child_nodes(node))
    return found


def _module_file(root: Path, dotted: str) -> Path | None:
    path = root.joinpath(*dotted.split("."))
    for candidate in (path.with_suffix(".py"), path / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def scan(handler_dir: Path, handler: str, shipped: Collection[str]) -> tuple[list[Import], list[Import]]:
    """The handler's imports from elsewhere, and the handler-dir modules it imports that are not in
    the zip (``shipped``: the zip's top-level names). ``handler`` is ``module.function``."""
    module, _, function = handler.rpartition(".")
    start = _module_file(handler_dir, module)
    if start is None:
        return [], []
    todo: list[tuple[Path, str, str | None]] = [(start, module, function)]
    seen: set[Path] = set()
    outside: list[Import] = []
    unshipped: list[Import] = []
    while todo:
        path, dotted, func = todo.pop(0)
        if path in seen:
            continue
        seen.add(path)
        try:
            tree = ast.parse(path.read_text(errors="replace"), filename=str(path))
        except SyntaxError:
            continue  # Lambda reports it at import; not an import question
        parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
        package = dotted if path.name == "__init__.py" else dotted.rpartition(".")[0]
        for node in _scanned(tree, func):
            if _guarded(node, parents):
                continue
            where = f"{path.relative_to(handler_dir)}:{node.lineno}"
            # (the module imported, the submodules it may name: ``from pkg import mod``)
            imported: list[tuple[str, list[str]]] = []
            if isinstance(node, ast.Import):
                imported = [(alias.name, []) for alias in node.names]
            elif node.level:  # relative: inside the handler's own package, never from elsewhere
                parts = package.split(".") if package else []
                base = ".".join(parts[: len(parts) - node.level + 1] + ([node.module] if node.module else []))
                for name in [base] + [f"{base}.{alias.name}" for alias in node.names]:
                    local = _module_file(handler_dir, name) if name else None
                    if local is not None:
                        todo.append((local, name, None))
            elif node.module and node.module != "__future__":
                imported = [(node.module, [f"{node.module}.{alias.name}" for alias in node.names])]
            for name, submodules in imported:
                top = name.split(".", 1)[0]
                if _module_file(handler_dir, top) is None and not (handler_dir / top).is_dir():
                    outside.append(Import(top, where))
                    continue
                if top not in shipped:
                    unshipped.append(Import(top, where))
                for candidate in [name, *submodules]:
                    local = _module_file(handler_dir, candidate)
                    if local is not None:
                        todo.append((local, candidate, None))
    return outside, unshipped


def check(
    handler_dir: Path,
    handler: str,
    zip_path: Path,
    runtime: str | None,
    python: str | None,
    efs_names: Collection[str] = (),
    has_layers: bool = False,
) -> None:
    """Raise one line for the first import the function could not satisfy (nothing deployed yet)."""
    shipped = zip_top_level(zip_path)
    outside, unshipped = scan(handler_dir, handler, shipped)
    if unshipped:
        first = unshipped[0]
        raise MlinfraError(
            f"the handler imports {first.name} ({first.where}), which is in the handler dir but not in "
            "the Lambda zip",
            f"add its file to mlinfra_package_include (e.g. {first.name}.py)",
        )
    if has_layers:
        return
    have = shipped | set(efs_names) | RUNTIME_MODULES | stdlib_names(python)
    missing = [found for found in outside if found.name not in have]
    if missing:
        first = missing[0]
        others = sorted({m.name for m in missing} - {first.name})
        more = f" (also {', '.join(others[:3])}{', ...' if len(others) > 3 else ''})" if others else ""
        raise MlinfraError(
            f"the handler imports {first.name} ({first.where}){more}, which Lambda runtime "
            f"{runtime or 'python'} would not have: it is not in the zip, the EFS packages or the runtime",
            "list it in the handler dir's requirements.txt (mlinfra_requirements) to build it into the zip, "
            "or in mlinfra_efs_packages",
        )
