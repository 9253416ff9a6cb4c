"""SIGTERM during the stock NER property suite (nightly profile): seconds from the signal to exit.

Issue 24 case 1: a SIGTERM that lands in Hypothesis' gc or observability callbacks was swallowed
and the session ran on (173 s to exit in the nightly profile). Target: under 15 s, exit code 2,
the stack destroyed, no process of the run left.

The main job (``pytest --mlinfra-target=local --mlinfra-profile=nightly examples/ner``) runs in a
session of its own (job control), in a private cache whose reusable parts (provider plugins, built
runtimes) are linked from the user's cache. SIGTERM goes to the whole process group ``--after``
seconds after the first property test starts, once per value given. Writes
``bench/results/bench_sigterm_nightly.json``.

    python bench/bench_sigterm_nightly.py [--after 2 3 5] [--profile nightly]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).parent / "results"
USER_CACHE = Path(os.environ.get("MLINFRA_CACHE_DIR", Path.home() / ".cache" / "pytest-mlinfra"))
PROPERTY_TEST = re.compile(r"(suite\.py|test_properties\.py)::\S+")
PROGRESS = re.compile(r"mlinfra: (apply|destroy) \d+/\d+ ")


def _private_cache(root: Path) -> Path:
    """A cache whose runs dir is this trial's alone; everything reusable is linked."""
    cache = root / "cache"
    cache.mkdir()
    if USER_CACHE.is_dir():
        for entry in USER_CACHE.iterdir():
            if entry.name not in ("runs", "runs.lock") and not entry.name.endswith(".lock"):
                (cache / entry.name).symlink_to(entry)
    return cache


def _left_processes(session: int, runs: Path) -> list[str]:
    """Processes in the job's session, or working inside its runs dir (Terraform, provider)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            cwd = os.readlink(entry / "cwd")
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, ValueError, IndexError):
            continue
        if stat[0] != "Z" and (int(stat[3]) == session or cwd.startswith(str(runs))):
            found.append(f"{entry.name} {cmd[:80]}")
    return found


def _states(runs: Path) -> dict[str, int]:
    return {str(p.relative_to(runs)): p.stat().st_size for p in runs.glob("*/stack/terraform.tfstate")}


def trial(after: float, profile: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-sigterm-") as tmp:
        cache = _private_cache(Path(tmp))
        out = Path(tmp) / "pytest.out"
        env = {**os.environ, "MLINFRA_CACHE_DIR": str(cache)}
        env.pop("PYTEST_ADDOPTS", None)
        cmd = [
            sys.executable, "-m", "pytest", "-v", "-p", "no:cacheprovider",
            "--mlinfra-target=local", f"--mlinfra-profile={profile}", "examples/ner",
        ]  # fmt: skip
        with open(out, "w") as sink:
            proc = subprocess.Popen(
                cmd, cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )  # fmt: skip
        started = time.monotonic()
        while not PROPERTY_TEST.search(out.read_text(errors="replace")):
            if proc.poll() is not None or time.monotonic() - started > 900:
                proc.kill()
                raise SystemExit(f"no property test started:\n{out.read_text()[-3000:]}")
            time.sleep(0.05)
        time.sleep(after)
        os.killpg(proc.pid, signal.SIGTERM)
        signalled = time.monotonic()
        try:
            code = proc.wait(timeout=600)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            code = proc.wait()
        seconds = time.monotonic() - signalled
        time.sleep(1.0)  # orphans get their death signal asynchronously
        text = out.read_text(errors="replace")
        left = _left_processes(proc.pid, cache / "runs")
        result: dict[str, Any] = {
            "after_s": after,
            "exit_code": code,
            "signal_to_exit_s": round(seconds, 1),
            "processes_left": left,
            "state_bytes_left": _states(cache / "runs"),
            "destroyed": "mlinfra: destroy: done in" in text,
            "swallowed": text.count("PytestUnraisableExceptionWarning"),
            "summary": text.strip().splitlines()[-1] if text.strip() else "",
            "after_signal": [
                line
                for line in text[text.find("SIGTERM received") - 10 :].splitlines()
                if (line.startswith("mlinfra:") and not PROGRESS.match(line))
                or "Exception ignored" in line
                or "Flaky" in line
            ][:20],
        }
        for pid in left:  # leave nothing behind, even after a bad trial
            with contextlib.suppress(OSError):
                os.kill(int(pid.split()[0]), signal.SIGKILL)
        return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--after", type=float, nargs="+", default=[2.0, 3.0, 5.0])
    parser.add_argument("--profile", default="nightly")
    args = parser.parse_args()
    trials = []
    for after in args.after:
        result = trial(after, args.profile)
        print(json.dumps(result), flush=True)
        trials.append(result)
    RESULTS.mkdir(exist_ok=True)
    worst = max(t["signal_to_exit_s"] for t in trials)
    report = {"profile": args.profile, "trials": trials, "worst_signal_to_exit_s": worst, "target_s": 15}
    (RESULTS / "bench_sigterm_nightly.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"worst SIGTERM-to-exit: {worst:.1f} s (target < 15 s)")


if __name__ == "__main__":
    main()
