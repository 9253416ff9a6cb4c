"""What the measured run would cost on AWS: the per-document Lambda bill and the stack's standing cost.

The prices are AWS's public on-demand list prices for one region, written next to every number the
report shows, and overridable (``--mlinfra-prices='lambda_gb_s=0.0000133334 region=eu-west-1'``)
because they change and differ per region. Free tiers and Savings Plans are left out on purpose: the
projection answers "what does this workload cost", not "what is this month's invoice".
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pytest_mlinfra.errors import MlinfraError
from pytest_mlinfra.latency import Sample

DOCUMENT_COUNTS = (1_000_000, 100_000_000)  # the post's "run it on 100 million documents"
_GB = 1e9  # AWS bills storage per GB (10^9 bytes)


@dataclass(frozen=True)
class Prices:
    """USD list prices, on demand, without free tier (aws.amazon.com/{lambda,efs,s3}/pricing)."""

    region: str = "us-east-1"
    checked: str = "2026-12-01"
    lambda_gb_s: float = 0.0000166667  # x86 duration, first 6 billion GB-s a month
    lambda_requests_per_million: float = 0.20
    efs_gb_month: float = 0.30  # EFS Standard storage (Regional)
    s3_gb_month: float = 0.023  # S3 Standard, first 50 TB a month

    def describe(self) -> str:
        gb_s = f"{self.lambda_gb_s:.10f}".rstrip("0")  # not 1.66667e-05
        return (
            f"AWS list prices for {self.region} as of {self.checked}: "
            f"Lambda x86 ${gb_s} per GB-s "
            f"+ ${self.lambda_requests_per_million} per 1M requests; EFS Standard ${self.efs_gb_month} "
            f"per GB-month; S3 Standard ${self.s3_gb_month} per GB-month (no free tier)"
        )


_FIELDS = {f.name: f.type for f in dataclasses.fields(Prices)}


def parse_prices(spec: str) -> Prices:
    """``"lambda_gb_s=0.0000133334 region=eu-west-1"`` -> :class:`Prices` with those fields replaced."""
    changes: dict[str, Any] = {}
    for item in spec.replace(",", " ").split():
        key, sep, value = item.partition("=")
        if not sep or key not in _FIELDS:
            raise MlinfraError(
                f"price {item!r} is not KEY=VALUE with KEY in {', '.join(_FIELDS)}",
                "write e.g. --mlinfra-prices='lambda_gb_s=0.0000133334 region=eu-west-1 checked=2026-12-01'",
            )
        if key in ("region", "checked"):
            changes[key] = value
            continue
        try:
            changes[key] = float(value)
        except ValueError:
            raise MlinfraError(f"price {item!r} is not a number", "write prices in USD, e.g. 0.30") from None
    return dataclasses.replace(Prices(), **changes)


def billed_ms(samples: Sequence[Sample]) -> tuple[float | None, str]:
    """Mean billed duration of one warm invoke (Lambda rounds each up to 1 ms), and where it came from.

    The function's own REPORT duration when it gave one; else the client's wall time (an upper bound).
    """
    warm = [s for s in samples if not s.cold]
    pool = warm or list(samples)
    if not pool:
        return None, "no invokes measured"
    server = [s.duration_ms for s in pool if s.duration_ms is not None]
    if server:
        return sum(math.ceil(d) for d in server) / len(
            server
        ), f"mean REPORT duration of {len(server)} invokes"
    return sum(math.ceil(s.client_ms) for s in pool) / len(
        pool
    ), f"mean client wall time of {len(pool)} invokes"


def projection(
    samples: Sequence[Sample], memory_mb: int, model_bytes: int | None, on_efs: bool, prices: Prices
) -> dict[str, Any]:
    """The cost figures of the report (plain JSON): per document, per 1 M / 100 M documents, monthly."""
    per_invoke_ms, basis = billed_ms(samples)
    figures: dict[str, Any] = {
        "prices": dataclasses.asdict(prices),
        "assumptions": prices.describe(),
        "memory_mb": memory_mb,
        "billed_ms_per_document": per_invoke_ms,
        "duration_basis": basis + "; one document per invoke",
        "documents": [],
    }
    if per_invoke_ms is not None:
        gb_s = memory_mb / 1024 * per_invoke_ms / 1000
        for count in DOCUMENT_COUNTS:
            compute = count * gb_s * prices.lambda_gb_s
            requests = count / 1e6 * prices.lambda_requests_per_million
            figures["documents"].append(
                {
                    "documents": count,
                    "gb_seconds": count * gb_s,
                    "compute_usd": compute,
                    "requests_usd": requests,
                    "total_usd": compute + requests,
                }
            )
    size_gb = (model_bytes or 0) / _GB
    standing: dict[str, Any] = {
        "s3_usd": size_gb * prices.s3_gb_month,
        "efs_usd": size_gb * prices.efs_gb_month if on_efs else 0.0,
    }
    standing["total_usd"] = standing["s3_usd"] + standing["efs_usd"]
    standing["stored_gb"] = size_gb
    standing["basis"] = (
        f"the model ({size_gb * 1000:.1f} MB) in S3"
        + (" and on EFS" if on_efs else "")
        + "; the VPC, subnets, IAM, EFS mount targets and an idle Lambda cost nothing while unused; "
        "DataSync's per-GB charge for each sync and CloudWatch Logs are not included"
    )
    figures["monthly_standing"] = standing
    return figures
