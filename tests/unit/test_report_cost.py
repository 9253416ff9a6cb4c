"""The cost projection's arithmetic and its price overrides."""

from __future__ import annotations

import pytest

from pytest_mlinfra.errors import MlinfraError
from pytest_mlinfra.latency import Sample
from pytest_mlinfra.report.cost import Prices, billed_ms, parse_prices, projection
from pytest_mlinfra.report.results import counterexample_from


def test_billed_duration_rounds_each_warm_invoke_up_to_a_millisecond() -> None:
    samples = [Sample(9.0, 2.1, init_ms=800.0), Sample(5.0, 2.1), Sample(6.0, 3.7)]
    assert billed_ms(samples) == (3.5, "mean REPORT duration of 2 invokes")
    assert billed_ms([Sample(4.2)])[0] == 5.0, "no REPORT line: the client's wall time, an upper bound"
    assert billed_ms([]) == (None, "no invokes measured")


def test_projection_for_1m_and_100m_documents_and_the_standing_cost() -> None:
    figures = projection([Sample(5.0, 100.0)] * 3, 1024, 2_000_000_000, True, Prices())
    one_m, hundred_m = figures["documents"]
    assert one_m["gb_seconds"] == pytest.approx(100_000)  # 1 GB x 0.1 s x 1 M
    assert one_m["compute_usd"] == pytest.approx(100_000 * 0.0000166667)
    assert one_m["requests_usd"] == pytest.approx(0.20)
    assert hundred_m["total_usd"] == pytest.approx(100 * one_m["total_usd"])
    standing = figures["monthly_standing"]
    assert standing["efs_usd"] == pytest.approx(0.60) and standing["s3_usd"] == pytest.approx(0.046)
    assert "us-east-1" in figures["assumptions"] and "2026-12-01" in figures["assumptions"]


def test_prices_are_overridable_and_bad_ones_are_one_line() -> None:
    prices = parse_prices("region=eu-west-1 efs_gb_month=0.33, checked=2027-01-01")
    assert (prices.region, prices.efs_gb_month, prices.checked) == ("eu-west-1", 0.33, "2027-01-01")
    assert prices.lambda_gb_s == Prices().lambda_gb_s
    with pytest.raises(MlinfraError, match="price 'ec2=1' is not KEY=VALUE"):
        parse_prices("ec2=1")
    with pytest.raises(MlinfraError, match="is not a number"):
        parse_prices("s3_gb_month=cheap")


def test_counterexample_is_taken_from_hypothesis_report() -> None:
    text = "E   AssertionError\nFalsifying example: check(\n    sample=NamedSentence(text='x'),\n)\nE  more"
    assert counterexample_from(text) == "Falsifying example: check(\n    sample=NamedSentence(text='x'),\n)"
    assert counterexample_from("plain failure") == ""
