"""Latency samples, percentiles and budgets for the deployed predictor."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from pytest_mlinfra.errors import MlinfraError

BUDGET_KEYS = ("p50", "p95", "p99", "cold")


@dataclass(frozen=True)
class Sample:
    """One invocation: client wall time, the function's reported duration, init time if cold."""

    client_ms: float
    duration_ms: float | None = None
    init_ms: float | None = None

    @property
    def cold(self) -> bool:
        return self.init_ms is not None


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (no interpolation: every reported value was observed)."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass
class LatencyLog:
    samples: list[Sample] = field(default_factory=list)

    def add(self, sample: Sample) -> None:
        self.samples.append(sample)

    def __repr__(self) -> str:
        """A line, not every sample: it shows up in Hypothesis counterexamples and assertion diffs."""
        shown = " ".join(f"{k}={v:.1f}ms" for k, v in self.summary().items() if k != "invokes")
        return f"LatencyLog({len(self.samples)} samples{', ' + shown if shown else ''})"

    @property
    def warm(self) -> list[float]:
        return [s.client_ms for s in self.samples if not s.cold]

    @property
    def cold(self) -> list[float]:
        return [s.client_ms for s in self.samples if s.cold]

    def summary(self) -> dict[str, float]:
        """p50/p95/p99 of warm invokes and the (worst) cold start, in ms of client wall time."""
        figures: dict[str, float] = {}
        if self.warm:
            figures |= {f"p{q}": percentile(self.warm, q) for q in (50, 95, 99)}
        if self.cold:
            figures["cold"] = max(self.cold)
        figures["invokes"] = float(len(self.samples))
        return figures


def parse_budgets(spec: str) -> dict[str, float]:
    """``"p50=50 p95=200 cold=5000"`` (ms; commas or spaces) -> mapping; one-line error otherwise."""
    budgets: dict[str, float] = {}
    for item in spec.replace(",", " ").split():
        key, sep, value = item.partition("=")
        try:
            if not sep or key not in BUDGET_KEYS:
                raise ValueError
            budgets[key] = float(value.removesuffix("ms"))
            if not 0 < budgets[key] < float("inf"):  # a negative, zero or NaN budget always misses
                raise ValueError
        except ValueError:
            raise MlinfraError(
                f"latency budget {item!r} is not KEY=MILLISECONDS with KEY in {', '.join(BUDGET_KEYS)}",
                "write e.g. --mlinfra-latency-budget='p50=100 p95=300 cold=5000'",
            ) from None
    return budgets


def budget_misses(log: LatencyLog, budgets: dict[str, float]) -> list[str]:
    """One line per budget exceeded; figures that were not measured cannot miss."""
    figures = log.summary()
    return [
        f"{key} {figures[key]:.1f} ms > budget {limit:.1f} ms"
        for key, limit in budgets.items()
        if key in figures and figures[key] > limit
    ]


def format_summary(log: LatencyLog) -> str:
    figures = log.summary()
    parts = [f"{k} {figures[k]:.1f} ms" for k in ("p50", "p95", "p99", "cold") if k in figures]
    return ", ".join(parts) + f" over {int(figures['invokes'])} invokes"
