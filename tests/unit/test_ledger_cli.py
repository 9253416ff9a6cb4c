"""The run ledger and the `mlinfra` command table: plain files and argv, no deployment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_mlinfra import cli, ledger
from pytest_mlinfra.ledger import Ledger, iter_ledgers, unfinished
from pytest_mlinfra.reap import parse_age, reap_main, runs_main
from pytest_mlinfra.sweep import kind_of


def _ledger(tmp_path: Path, run_id: str = "r1234567", **kw: object) -> Ledger:
    entry = Ledger(run_id=run_id, run_dir=tmp_path / run_id, target="localstack", region="us-east-1", **kw)  # type: ignore[arg-type]
    entry.write()
    return entry


def test_ledger_round_trips_and_keeps_unknown_fields(tmp_path: Path) -> None:
    entry = _ledger(tmp_path, endpoint="http://127.0.0.1:1")
    entry.set_status(ledger.APPLIED)
    raw = json.loads(entry.path.read_text())
    raw["kept"] = True  # a field another part of the plugin adds
    entry.path.write_text(json.dumps(raw))
    again = Ledger.read(entry.run_dir)
    assert again.status == "applied" and again.endpoint == "http://127.0.0.1:1"
    assert [h["status"] for h in again.history] == ["applied"]
    assert again.extra == {"kept": True}
    again.set_status(ledger.DESTROYING)
    assert json.loads(entry.path.read_text())["kept"] is True
    assert not list(entry.run_dir.glob(".*tmp")), "atomic write leaves no temp file"
    with pytest.raises(ValueError, match="unknown run status"):
        again.set_status("done")


def test_unfinished_runs_are_those_whose_process_is_gone(tmp_path: Path) -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    gone = _ledger(tmp_path, "rgone000", pid=int(dead.stdout))
    _ledger(tmp_path, "rlive000")  # this process: alive
    _ledger(tmp_path, "rdone000", pid=int(dead.stdout), status=ledger.DESTROYED)
    (tmp_path / "not-a-run").mkdir()
    assert [e.run_id for e in iter_ledgers(tmp_path)] == ["rgone000", "rlive000", "rdone000"]
    assert [e.run_id for e in unfinished(tmp_path)] == [gone.run_id]


def test_a_kept_stack_is_no_leftover_and_reap_all_leaves_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Deployed on purpose (--mlinfra-reuse): the session's header does not count it, ``runs`` says
    so, ``reap --all`` skips it; named, or with ``--kept``, it is reaped."""
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    kept = _ledger(tmp_path, "rkept000", pid=int(dead.stdout), status=ledger.APPLIED)
    kept.extra["kept"] = True
    kept.write()
    assert unfinished(tmp_path) == []
    assert runs_main(["--runs-dir", str(tmp_path)]) == 0
    assert "kept for --mlinfra-reuse" in capsys.readouterr().out
    assert reap_main(["--runs-dir", str(tmp_path), "--all"]) == 0
    out = capsys.readouterr().out
    assert "rkept000: skipped: kept for --mlinfra-reuse" in out and "nothing to reap" in out
    assert Ledger.read(kept.run_dir).status == ledger.APPLIED


def test_runs_lists_and_reap_needs_a_choice(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _ledger(tmp_path, pid=os.getpid())
    assert runs_main(["--runs-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == ["RUN", "STATUS", "AGE", "TARGET", "REMAINS"]
    assert "r1234567  applying" in out and f"running (pid {os.getpid()})" in out
    assert reap_main(["--runs-dir", str(tmp_path)]) == 2
    assert "give RUN_ID..., --all, or --older-than 2h" in capsys.readouterr().err
    assert reap_main(["--runs-dir", str(tmp_path), "rnope000"]) == 2
    assert reap_main(["--runs-dir", str(tmp_path), "r1234567"]) == 0
    assert "skipped: still running" in capsys.readouterr().out


def test_command_table_and_module_entry(capsys: pytest.CaptureFixture[str]) -> None:
    assert {"audit", "runs", "reap"} <= cli.COMMANDS.keys()
    assert cli.main(["nope"]) == 2
    assert "unknown command 'nope'" in capsys.readouterr().err
    proc = subprocess.run(
        [sys.executable, "-m", "pytest_mlinfra", "audit", "--help"], capture_output=True, text=True
    )
    assert proc.returncode == 0 and "--live" in proc.stdout


def test_ages_and_arns() -> None:
    assert parse_age("2h") == 7200 and parse_age("90s") == 90
    assert kind_of("arn:aws:lambda:us-east-1:123456789012:function:f") == ("lambda-function", "f")
    assert kind_of("arn:aws:ec2:us-east-1:123456789012:subnet/subnet-1") == ("subnet", "subnet-1")
    assert kind_of("arn:aws:s3:::b") == ("s3-bucket", "b")
    assert kind_of("arn:aws:logs:us-east-1:1:log-group:/aws/lambda/f:*") == ("log-group", "/aws/lambda/f")
    assert kind_of("arn:aws:iam::1:role/path/r") == ("iam-role", "r")
    assert kind_of("arn:aws:apigateway:us-east-1::/apis/a1b2c3") == ("http-api", "a1b2c3")
    assert kind_of("arn:aws:apigateway:us-east-1::/apis/a1b2c3/stages/$default") is None


def test_cli_conventions(capsys: pytest.CaptureFixture[str]) -> None:
    """Bare command: help on stderr, exit 2; --version; one program name; --json on listings."""
    assert cli.main([]) == 2
    assert capsys.readouterr().err.startswith("usage: mlinfra ")
    assert cli.main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("mlinfra ")
    for command in ("audit", "runs", "status"):
        try:
            code = cli.main([command, "--help"])
        except SystemExit as exc:  # argparse's own --help exit
            code = int(exc.code or 0)
        out = capsys.readouterr().out
        assert code == 0 and out.startswith(f"usage: mlinfra {command} ")
        assert command == "audit" or "--json" in out
