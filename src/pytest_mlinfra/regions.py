"""The AWS regions a run may name, from botocore's endpoint data, checked before anything starts.

A region AWS does not have fails late and badly otherwise: the embedded AWS (moto) answers its
first request with an HTML 500, the provider with a retry loop. botocore ships the regions of every
partition in ``botocore/data/endpoints.json``, the list boto3 and moto serve (``partitions.json``
names a few more that neither serves yet). Reading that file directly costs ~0.1 s and does not
import botocore, so it is read only for a region other than the default.
"""

from __future__ import annotations

import difflib
import importlib.util
import json
from functools import cache
from pathlib import Path

from pytest_mlinfra.errors import MlinfraError


@cache
def known_regions() -> dict[str, tuple[str, ...]]:
    """Partition id -> its region names (the ``aws-global`` style pseudo-regions left out)."""
    spec = importlib.util.find_spec("botocore")
    if spec is None or spec.origin is None:
        return {}
    data = json.loads((Path(spec.origin).parent / "data" / "endpoints.json").read_text())
    return {partition["partition"]: tuple(sorted(partition["regions"])) for partition in data["partitions"]}


def check_region(region: str) -> None:
    """One line when ``region`` is in no partition botocore knows (no data: nothing is checked)."""
    if region == "us-east-1":  # the default: no need to read the list
        return
    partitions = known_regions()
    every = [name for names in partitions.values() for name in names]
    if not every or region in every:
        return
    close = difflib.get_close_matches(region, every, n=3)
    hint = f"did you mean {' or '.join(close)}? " if close else ""
    listed = ", ".join(partitions.get("aws", every))
    raise MlinfraError(
        f"region {region!r} is not an AWS region (not in botocore's endpoint data)",
        f"{hint}set --mlinfra-region (ini mlinfra_region) to one of: {listed} (other partitions: cn-, "
        "us-gov-, ...; a region newer than botocore needs pip install -U botocore)",
    )
