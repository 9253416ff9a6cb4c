"""Terraform's version constraint syntax, as the installation plan evaluates it (go-versions rules)."""

from __future__ import annotations

import pytest

from pytest_mlinfra.terraform.constraints import Version, admits, newest_admitted, parse_constraints

V = Version.parse


@pytest.mark.parametrize(
    ("constraint", "admitted", "refused"),
    [
        (">= 3.39", ["3.39.0", "3.40.1", "5.0.0"], ["3.38.9", "2.70.0"]),
        ("~> 5.0", ["5.0.0", "5.99.3"], ["4.67.0", "6.0.0", "3.39.0"]),
        ("~> 3.39", ["3.39.0", "3.76.1"], ["3.38.0", "4.0.0"]),
        ("~> 3", ["3.0.0", "3.39.0"], ["2.70.0", "4.0.0"]),  # one part: like two, the major is kept
        ("~> 3.39.0", ["3.39.0", "3.39.7"], ["3.40.0", "3.38.9"]),  # three parts: the minor is kept
        ("3.39.0", ["3.39.0"], ["3.39.1"]),  # no operator means =
        ("= 3.39", ["3.39.0"], ["3.39.1"]),  # missing parts are zero
        ("!= 3.39.0", ["2.70.0", "3.39.1"], ["3.39.0"]),
        ("> 2.70.0", ["2.70.1", "3.39.0"], ["2.70.0"]),
        ("< 3.0", ["2.70.0"], ["3.0.0", "3.39.0"]),
        ("<= 3.39.0", ["3.39.0", "2.70.0"], ["3.39.1"]),
        (">= 2.0, < 3.0", ["2.70.0"], ["3.39.0", "1.9.9"]),
        (">=3.39,<4", ["3.39.0"], ["4.0.0"]),  # spaces are optional
    ],
)
def test_constraint_table(constraint: str, admitted: list[str], refused: list[str]) -> None:
    for version in admitted:
        assert admits([constraint], V(version)), (constraint, version)
    for version in refused:
        assert not admits([constraint], V(version)), (constraint, version)


def test_every_module_constraint_must_hold() -> None:
    assert admits([">= 3.0", "< 3.40"], V("3.39.0"))
    assert not admits([">= 3.39", "~> 2.70"], V("3.39.0"))
    assert admits([], V("2.70.0")), "no constraint: any version"


def test_prereleases_only_when_named_exactly() -> None:
    assert not admits([">= 3.0"], V("4.0.0-beta1"))
    assert admits(["= 4.0.0-beta1"], V("4.0.0-beta1"))
    assert V("4.0.0-beta.2") < V("4.0.0") and V("4.0.0-beta.2") < V("4.0.0-beta.10")  # semver order


def test_newest_admitted_picks_like_terraform() -> None:
    held = [V("2.70.0"), V("3.39.0")]
    assert newest_admitted([">= 2.0"], held) == V("3.39.0")
    assert newest_admitted(["~> 2.0"], held) == V("2.70.0")
    assert newest_admitted(["~> 5.0"], held) is None
    assert newest_admitted(["v5"], held) is None, (
        "an invalid constraint serves nothing (Terraform reports it)"
    )


@pytest.mark.parametrize("bad", ["v1.0", "1.x", "1.2.3.4", "=> 1.0", ""])
def test_invalid_constraints_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_constraints(bad)
