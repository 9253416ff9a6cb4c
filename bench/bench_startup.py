"""What installing the plugin costs a session that never uses it (target: <= 3 % wall).

An unrelated one-test session runs with the plugin (A) and with ``-p no:mlinfra`` (B), in pairs,
alternating which goes first (A-B, B-A, ...), each in a fresh interpreter from a fresh temp dir with a
private, empty MLINFRA_CACHE_DIR. The figure is the median over pairs of A/B wall time (these
machines are noisy; pairing cancels drift). Also reported: the import time of
``pytest_mlinfra.plugin`` on top of pytest (``python -X importtime``, median of the runs).
``--src DIR`` measures another checkout's ``src`` (e.g. an older commit, for a before/after).
Writes ``bench/results/bench_startup.json``.

    python bench/bench_startup.py [--pairs 15] [--src path/to/src]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).parent / "results"


def session_seconds(folder: Path, env: dict[str, str], disabled: bool) -> float:
    # Not -q: the report header is part of what a user's run pays for.
    args = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "test_unrelated.py"]
    if disabled:
        args += ["-p", "no:mlinfra"]
    started = time.perf_counter()
    proc = subprocess.run(args, cwd=folder, env=env, capture_output=True, text=True, timeout=300)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"the session failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}")
    return seconds


def plugin_import_ms(env: dict[str, str]) -> float:
    """Cumulative import time of pytest_mlinfra.plugin, pytest already imported."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import pytest; import pytest_mlinfra.plugin"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    line = next(li for li in proc.stderr.splitlines() if li.rstrip().endswith("| pytest_mlinfra.plugin"))
    return int(line.split("|")[1]) / 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=15)
    parser.add_argument("--src", type=Path, default=ROOT / "src", help="the pytest_mlinfra source to measure")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mlinfra-bench-startup-") as tmp:
        folder = Path(tmp)
        (folder / "test_unrelated.py").write_text("def test_unrelated():\n    assert 1 + 1 == 2\n")
        env = {
            **os.environ,
            "PYTHONPATH": str(args.src.resolve()),
            "MLINFRA_CACHE_DIR": str(folder / "cache"),
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        session_seconds(folder, env, disabled=False)  # warm the OS file cache once
        ratios, with_plugin, without = [], [], []
        for pair in range(args.pairs):
            order = (False, True) if pair % 2 == 0 else (True, False)
            times = {disabled: session_seconds(folder, env, disabled) for disabled in order}
            with_plugin.append(times[False])
            without.append(times[True])
            ratios.append(times[False] / times[True])
        imports = [plugin_import_ms(env) for _ in range(5)]
        wrote_cache = (folder / "cache").exists()
    result = {
        "src": str(args.src.resolve()),
        "pairs": args.pairs,
        "median_ratio_with_vs_without": statistics.median(ratios),
        "median_s_with_plugin": statistics.median(with_plugin),
        "median_s_without_plugin": statistics.median(without),
        "plugin_import_ms_median": statistics.median(imports),
        "session_wrote_the_cache_dir": wrote_cache,
        "python": platform.python_version(),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "bench_startup.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
