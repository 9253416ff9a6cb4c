"""The fast loop on a real LocalStack: ``--mlinfra-reuse`` keeps the stack there (nothing of ours
runs on that target, so only the stack is kept), a second session re-applies incrementally and skips
the model sync, and ``mlinfra down --target localstack`` destroys it."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_mlinfra import kept, service_cli
from pytest_mlinfra.localstack_ext.launcher import LocalStack
from tests.localstack.test_flow import _deployed, _user_repo

pytestmark = pytest.mark.slow


def _session(pytester: pytest.Pytester, ls: LocalStack) -> pytest.RunResult:
    return pytester.runpytest(
        "--mlinfra-target=localstack",
        f"--mlinfra-localstack-endpoint={ls.endpoint_url}",
        "--mlinfra-reuse",
        "--mlinfra-examples=5",
        "-p",
        "no:cacheprovider",
    )


def test_reuse_keeps_the_stack_on_localstack_and_down_destroys_it(
    pytester: pytest.Pytester, localstack_plugin: LocalStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLINFRA_CACHE_DIR", str(tmp_path / "cache"))
    _user_repo(pytester)
    first = _session(pytester, localstack_plugin)
    first.assert_outcomes(passed=13)
    first.stdout.fnmatch_lines(["mlinfra: reuse: no kept stack of * on localstack: deployed * and kept it*"])
    assert _deployed(localstack_plugin), "kept: the stack is still on LocalStack after the session"
    (stack,) = kept.all_kept()
    assert stack.target == "localstack" and stack.where == localstack_plugin.endpoint_url

    second = _session(pytester, localstack_plugin)
    second.assert_outcomes(passed=13)
    second.stdout.fnmatch_lines(
        [
            f"mlinfra: reused {stack.run_id}: no changes",
            f"*reused {stack.run_id}: model sha256 * upload and DataSync skipped",
        ]
    )

    assert service_cli.down_main(["--target", "localstack"]) == 0
    assert _deployed(localstack_plugin) == {}, "mlinfra down destroyed the kept stack"
    assert kept.all_kept() == []
