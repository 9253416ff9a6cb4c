"""How fast is the plan audit on a big plan? Goal: 10,000 resources in under 1 s.

Generates a ``terraform show -json``-shaped plan with 10,000 resources (a mix of taggable and
untaggable AWS types, child modules, planted violations, some tags unknown until apply), then times
``audit_plan`` against a baseline measured in the same run: ``json.loads`` of the same file, the
unavoidable cost of reading any plan. Writes ``bench/results/bench_audit.json``.

    python bench/bench_audit.py [--resources 10000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import time
from pathlib import Path
from typing import Any

from pytest_mlinfra.audit import Policy, audit_plan, load_taggable

RESULTS = Path(__file__).parent / "results"
TYPES = [
    ("aws_s3_bucket", True), ("aws_efs_file_system", True), ("aws_efs_access_point", True),
    ("aws_lambda_function", True), ("aws_datasync_task", True), ("aws_iam_role", True),
    ("aws_efs_mount_target", False), ("aws_iam_role_policy", False), ("aws_s3_bucket_policy", False),
]  # fmt: skip


def make_plan(n: int, seed: int = 7) -> dict[str, Any]:
    rng = random.Random(seed)
    modules: list[dict[str, Any]] = [{"address": f"module.m{i}", "resources": []} for i in range(20)]
    root: dict[str, Any] = {"resources": [], "child_modules": modules}
    changes = []
    for i in range(n):
        rtype, taggable = TYPES[i % len(TYPES)]
        module = root if i % 2 else modules[i % len(modules)]
        prefix = f"{module['address']}." if "address" in module else ""
        address = f"{prefix}{rtype}.r{i}"
        values: dict[str, Any] = {"id": None, "arn": None, "name": f"r{i}"}
        after_unknown: dict[str, Any] = {"id": True, "arn": True}
        if taggable:
            tags = {"Name": f"r{i}", "Environment": rng.choice(["dev", "staging", "prod"]), "Project": "ner"}
            roll = rng.random()
            if roll < 0.10:
                del tags["Name"]
            elif roll < 0.15:
                tags["Environment"] = "sandbox"
            elif roll < 0.17:
                after_unknown["tags"] = {"Name": True}
            values["tags"] = {k: v for k, v in tags.items() if k != "Project"}
            values["tags_all"] = tags
        module["resources"].append(
            {"address": address, "mode": "managed", "type": rtype, "name": f"r{i}", "values": values}
        )
        changes.append({"address": address, "type": rtype, "change": {
            "actions": ["create"], "before": None, "after": values, "after_unknown": after_unknown,
        }})  # fmt: skip
    return {
        "format_version": "1.2",
        "terraform_version": "1.15.5",
        "planned_values": {"root_module": root},
        "resource_changes": changes,
    }


def best(fn: Any, repeat: int) -> tuple[float, list[float]]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times), times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resources", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    plan_file = RESULTS / f"plan-{args.resources}.json"
    plan_file.write_text(json.dumps(make_plan(args.resources)))
    text = plan_file.read_text()
    doc = json.loads(text)
    policy = Policy(
        require=("Name", "Environment", "Project"), allowed={"Environment": ("dev", "staging", "prod")}
    )
    table = load_taggable()
    findings = audit_plan(doc, policy, table)

    load_s, load_all = best(lambda: json.loads(text), args.repeat)
    audit_s, audit_all = best(lambda: audit_plan(doc, policy, table), args.repeat)
    cold_s, _ = best(lambda: audit_plan(json.loads(text), policy), 1)  # table load + parse + audit
    result = {
        "resources": args.resources,
        "plan_bytes": len(text),
        "findings": len(findings),
        "baseline_json_loads_s": round(load_s, 4),
        "audit_plan_s": round(audit_s, 4),
        "audit_plan_median_s": round(statistics.median(audit_all), 4),
        "json_loads_median_s": round(statistics.median(load_all), 4),
        "cold_end_to_end_s": round(cold_s, 4),
        "ratio_audit_to_json_loads": round(audit_s / load_s, 2),
        "goal_s": 1.0,
        "meets_goal": audit_s < 1.0,
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    (RESULTS / "bench_audit.json").write_text(json.dumps(result, indent=2) + "\n")
    plan_file.unlink()
    print(json.dumps(result, indent=2))
    return 0 if result["meets_goal"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
