"""The run dir copy: the smallest tree holding the stack and the local modules it reaches (no Terraform)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pytest_mlinfra.errors import MlinfraError
from pytest_mlinfra.terraform.layout import MAX_FILE_BYTES, StackLayout

MONOREPO = Path(__file__).parents[1] / "stacks" / "monorepo" / "infra"


def _tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def test_monorepo_modules_through_dotdot_are_found_and_laid_out(tmp_path: Path) -> None:
    layout = StackLayout.discover(MONOREPO / "live" / "test")
    assert layout.root == MONOREPO
    assert layout.stack_in_root == Path("live/test")
    assert {m.relative_to(MONOREPO).as_posix() for m in layout.modules} == {
        "modules/storage",
        "modules/network",
        "modules/naming",  # reached only through storage's "../naming"
    }
    layout.copy_to(tmp_path)
    assert _tree(tmp_path) == {
        "live/test/main.tf",
        "modules/storage/main.tf",
        "modules/storage/policies/tls_only.json.tpl",  # read with path.module: subfolders come along
        "modules/network/main.tf",
        "modules/naming/main.tf",
    }, "unrelated/ and README.md are reached by no module and stay out"


def test_stack_without_outside_modules_copies_only_itself(tmp_path: Path, small_stack: Path) -> None:
    layout = StackLayout.discover(small_stack)
    assert (layout.root, layout.stack_in_root) == (small_stack.resolve(), Path("."))
    layout.copy_to(tmp_path)
    assert _tree(tmp_path) == {"main.tf"}


def test_runs_dir_inside_the_stack_folder_is_not_copied_into_itself(tmp_path: Path) -> None:
    # --mlinfra-runs-dir=runs next to main.tf: the copy lands inside the folder being copied.
    (tmp_path / "main.tf").write_text("")
    (tmp_path / "runs" / "r-older").mkdir(parents=True)
    dest = tmp_path / "runs" / "r1" / "stack"
    StackLayout.discover(tmp_path).copy_to(dest)
    assert _tree(dest) == {"main.tf"}


def test_working_data_state_and_big_files_are_skipped(tmp_path: Path) -> None:
    stack = tmp_path / "repo" / "stack"
    (stack / ".terraform" / "providers").mkdir(parents=True)
    (stack / ".git").mkdir()
    (stack / "main.tf").write_text('module "m" {\n  source = "./m"\n}\n')
    (stack / "m").mkdir()
    (stack / "m" / "main.tf").write_text("")
    for name in ("terraform.tfstate", "terraform.tfstate.backup", ".terraform.lock.hcl", "x_override.tf"):
        (stack / name).write_text("{}")
    with open(stack / "huge.zip", "wb") as sparse:  # sparse: costs no disk
        sparse.truncate(MAX_FILE_BYTES + 1)
    layout = StackLayout.discover(stack)
    skipped = layout.copy_to(tmp_path / "copy")
    assert skipped == [stack / "huge.zip"]
    assert _tree(tmp_path / "copy") == {"main.tf", "m/main.tf"}


def test_module_source_that_is_not_a_folder_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text('module "vpc" {\n  source = "../../modules/vpc"\n}\n')
    with pytest.raises(MlinfraError) as error:
        StackLayout.discover(tmp_path)
    message = str(error.value)
    assert "module source '../../modules/vpc'" in message and "not a folder" in message
    assert "\n" not in message


def test_registry_and_git_sources_are_not_followed(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text(
        'module "vpc" {\n  source  = "terraform-aws-modules/vpc/aws"\n  version = "3.7.0"\n}\n'
        'module "g" {\n  source = "git::https://example.com/x.git"\n}\n'
    )
    (tmp_path / "extra.tf.json").write_text('{"module": {"j": {"source": "./j"}}}')
    (tmp_path / "j").mkdir()
    assert StackLayout.discover(tmp_path).modules == [Path(os.path.realpath(tmp_path / "j"))]
