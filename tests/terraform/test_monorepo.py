"""A monorepo-shaped user repo through the real toolchain: local modules via ``..``, count gates,
data sources, outputs passed up two levels; the user's folders are never written to."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_mlinfra.ledger import JOURNAL

pytestmark = pytest.mark.slow

INFRA = Path(__file__).parents[1] / "stacks" / "monorepo" / "infra"


def _snapshot(root: Path) -> dict[str, float]:
    return {str(p): p.stat().st_mtime for p in root.rglob("*")}


def test_monorepo_stack_applies_tests_and_destroys(pytester: pytest.Pytester) -> None:
    before = _snapshot(INFRA)
    pytester.makeini(f"[pytest]\nmlinfra_stack = {INFRA / 'live' / 'test'}\nmlinfra_runs_dir = runs\n")
    pytester.makepyfile(
        """
        def test_outputs_come_up_from_nested_modules(mlinfra_stack, mlinfra_target):
            out = mlinfra_stack.outputs
            assert out["bucket_name"] == f"mlinfra-{mlinfra_stack.run_id}-models"  # via ../naming
            assert len(out["subnet_ids"]) == 2 and out["vpc_id"].startswith("vpc-")
            assert len(out["private_route_table_ids"]) == 1  # gated on a local over list lengths
            ec2 = mlinfra_target.client("ec2")
            vpc = [{"Name": "vpc-id", "Values": [out["vpc_id"]]}]
            attached = [{"Name": "attachment.vpc-id", "Values": [out["vpc_id"]]}]
            assert ec2.describe_internet_gateways(Filters=attached)["InternetGateways"] == []  # gated off
            tables = ec2.describe_route_tables(RouteTableIds=out["private_route_table_ids"])["RouteTables"]
            assert sorted(a["SubnetId"] for a in tables[0]["Associations"]) == sorted(out["subnet_ids"])
            assert len(ec2.describe_subnets(Filters=vpc)["Subnets"]) == 2
            policy = mlinfra_target.client("s3").get_bucket_policy(Bucket=out["bucket_name"])["Policy"]
            assert "DenyInsecureTransport" in policy  # template read with path.module
            assert str(mlinfra_stack.workdir).startswith(str(__import__("pathlib").Path.cwd() / "runs"))
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(passed=2)  # the test and the cost-tag audit
    assert "DESTROY FAILED" not in result.stdout.str()
    left = [p for p in (pytester.path / "runs").iterdir() if p.name != JOURNAL]  # the finished-runs journal
    assert left == [], "a clean run removes its run dir"
    assert _snapshot(INFRA) == before, "nothing is written into the user's folders"


def test_count_gate_off_creates_no_network(pytester: pytest.Pytester) -> None:
    stack = pytester.mkdir("infra")
    # A copy of the repo with the gate turned off by a variable default, in a folder of the test's own.
    import shutil

    shutil.copytree(INFRA, stack, dirs_exist_ok=True)
    main = stack / "live" / "test" / "main.tf"
    main.write_text(main.read_text().replace("default     = true", "default     = false"))
    pytester.makepyfile(
        "def test_no_vpc(mlinfra_stack):\n"
        "    assert mlinfra_stack.outputs['vpc_id'] is None\n"
        "    assert mlinfra_stack.outputs['subnet_ids'] == []\n"
        "    assert mlinfra_stack.outputs['private_route_table_ids'] == []\n"
    )
    result = pytester.runpytest(f"--mlinfra-stack={stack / 'live' / 'test'}", "--mlinfra-no-audit")
    result.assert_outcomes(passed=1)
