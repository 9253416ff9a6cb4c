"""The run ledger: one JSON file in each run dir saying what the run is and how far it got.

Written before the first apply and at every stage after, atomically (temp file + fsync + rename),
so a run killed at any point leaves a ledger that ``mlinfra runs`` / ``mlinfra reap`` can trust.
Plain JSON and the standard library only: readable without pytest, by other tools, by hand::

    {"run_id": "r1a2b3c4", "target": "localstack", "status": "applied",
     "history": [{"status": "applying", "at": 1764620000.1}, ...], ...}

Fields other parts add (``kept``, a reuse key) go in ``extra`` and are written at the top level;
fields this version does not know survive a rewrite.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pytest_mlinfra.children import pid_running
from pytest_mlinfra.targets import target_class

FILE_NAME = "mlinfra-run.json"
#  In the runs dir: one JSON line per finished run whose run dir was removed (newest last).
JOURNAL = "finished.jsonl"
JOURNAL_KEEP = 200

APPLYING = "applying"
APPLIED = "applied"
DESTROYING = "destroying"
DESTROYED = "destroyed"
DESTROY_FAILED = "destroy-failed"
INTERRUPTED = "interrupted"
STATUSES = (APPLYING, APPLIED, DESTROYING, DESTROYED, DESTROY_FAILED, INTERRUPTED)
#  Statuses after which nothing of the run can remain deployed.
FINISHED = (DESTROYED,)


@dataclass
class Ledger:
    run_id: str
    run_dir: Path
    target: str
    region: str
    endpoint: str | None = None
    stack_source: str = ""
    state_path: str = ""
    terraform: str = ""
    pid: int = field(default_factory=os.getpid)
    hostname: str = field(default_factory=lambda: os.uname().nodename)
    started_at: float = field(default_factory=time.time)
    status: str = APPLYING
    history: list[dict[str, Any]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def path(self) -> Path:
        return self.run_dir / FILE_NAME

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    @property
    def kept(self) -> bool:
        """Kept deployed on purpose (``--mlinfra-reuse``): ``mlinfra down`` destroys it, not a leak."""
        return bool(self.extra.get("kept"))

    def age_s(self, now: float | None = None) -> float:
        return (now or time.time()) - self.started_at

    def pid_alive(self) -> bool:
        """Whether the process that wrote this ledger still runs (on this machine)."""
        if self.hostname != os.uname().nodename:
            return False
        if not pid_running(self.pid):
            return False
        return _same_process(self.pid, self.started_at)

    def set_status(self, status: str, detail: str = "") -> None:
        if status not in STATUSES:
            raise ValueError(f"unknown run status {status!r}")
        self.status = status
        entry: dict[str, Any] = {"status": status, "at": time.time()}
        if detail:
            entry["detail"] = detail
        self.history.append(entry)
        self.write()

    def to_json(self) -> dict[str, Any]:
        """The file's content: ``extra`` fields sit at the top level, next to the known ones."""
        data = asdict(self)
        extra = data.pop("extra")
        data["run_dir"] = str(self.run_dir)
        return {**{k: v for k, v in extra.items() if k not in data}, **data}

    def write(self) -> None:
        """Atomic replace: readers see the old or the new ledger, never half of one."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{FILE_NAME}.{os.getpid()}.tmp")
        with open(tmp, "w", encoding="utf-8") as handle:
            json.dump(self.to_json(), handle, indent=2, sort_keys=True)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.path)
        _fsync_dir(self.run_dir)

    def archive(self) -> None:
        """Append the final ledger to the runs dir's journal of finished runs (the run dir itself is
        removed after a clean destroy); the journal keeps the newest :data:`JOURNAL_KEEP` lines."""
        journal = self.run_dir.parent / JOURNAL
        try:
            lines = journal.read_text(encoding="utf-8").splitlines()[-(JOURNAL_KEEP - 1) :]
        except OSError:
            lines = []
        lines.append(json.dumps(self.to_json(), sort_keys=True))
        tmp = journal.with_name(f".{JOURNAL}.{os.getpid()}.tmp")
        tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
        os.replace(tmp, journal)

    @classmethod
    def read(cls, run_dir: Path) -> Ledger:
        """The ledger of ``run_dir``; raises ``OSError``/``ValueError`` when missing or unreadable."""
        data = json.loads((Path(run_dir) / FILE_NAME).read_text(encoding="utf-8"))
        if not isinstance(data, dict) or "run_id" not in data:
            raise ValueError(f"{run_dir / FILE_NAME} is not a run ledger")
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known and k != "extra"}
        values["run_dir"] = Path(run_dir)
        ledger = cls(**values)
        ledger.extra = {k: v for k, v in data.items() if k not in known}
        return ledger


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _same_process(pid: int, started_at: float) -> bool:
    """Guard against pid reuse: the process must have started before the ledger was written."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = int(stat[19])
        boot = next(
            float(line.split()[1])
            for line in Path("/proc/stat").read_text().splitlines()
            if line.startswith("btime")
        )
    except (OSError, ValueError, IndexError, StopIteration):
        return True
    return boot + ticks / os.sysconf("SC_CLK_TCK") <= started_at + 1.0


def finished_runs(runs_dir: Path) -> list[dict[str, Any]]:
    """The journal of finished runs (plain dicts, oldest first)."""
    try:
        text = (runs_dir / JOURNAL).read_text(encoding="utf-8")
    except OSError:
        return []
    entries = []
    for line in text.splitlines():
        try:
            entries.append(json.loads(line))
        except ValueError:
            continue
    return entries


def iter_ledgers(runs_dir: Path) -> Iterator[Ledger]:
    """Every readable ledger under ``runs_dir`` (one sub-directory per run), oldest first."""
    if not runs_dir.is_dir():
        return
    found = []
    for child in runs_dir.iterdir():
        if (child / FILE_NAME).is_file():
            try:
                found.append(Ledger.read(child))
            except (OSError, ValueError, TypeError):
                continue
    yield from sorted(found, key=lambda ledger: ledger.started_at)


def endpoint_listening(url: str | None, timeout_s: float = 0.5) -> bool:
    """Whether something accepts connections at the endpoint's host:port."""
    if not url:
        return False
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80), timeout=timeout_s):
            return True
    except (OSError, ValueError):
        return False


def may_remain(ledger: Ledger) -> bool:
    """Resources of this run may still be deployed: not destroyed, its process gone, and its target
    still there (a ``local`` run's in-process embedded AWS dies with the run, taking everything).
    A kept stack is deployed on purpose: not counted (``mlinfra status`` lists it)."""
    if ledger.finished or ledger.kept or ledger.pid_alive():
        return False
    return not target_class(ledger.target).deployed_in_emulator or endpoint_listening(ledger.endpoint)


def unfinished(runs_dir: Path, exclude: str = "") -> list[Ledger]:
    """Runs whose process is gone and whose resources may remain (see :func:`may_remain`)."""
    return [ledger for ledger in iter_ledgers(runs_dir) if ledger.run_id != exclude and may_remain(ledger)]
