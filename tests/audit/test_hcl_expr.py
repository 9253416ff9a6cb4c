"""The HCL expression subset the static audit evaluates, and the Unknown it returns for the rest."""

from __future__ import annotations

from typing import Any

import hcl2
import pytest

from pytest_mlinfra.audit.hcl_expr import PartialMap, Unknown, evaluate

SCOPE: dict[str, dict[str, Any]] = {
    "var": {"a": "x", "tags": {"Env": "dev"}, "l": ["a"], "open": Unknown("var.open has no default")},
    "local": {"n": 1, "k": "KK"},
}


def resolve(root: str, name: str) -> Any:
    return SCOPE[root].get(name, Unknown(f"{root}.{name} is not defined"))


def value_of(expression: str) -> Any:
    return evaluate(hcl2.loads(f"v = {expression}\n")["v"], resolve)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        (
            '{ Name = "x", "Env" = var.tags["Env"], Nested = { A = 1 } }',
            {"Name": "x", "Env": "dev", "Nested": {"A": 1}},
        ),
        ('"${var.a}-${local.n + 1}"', "x-2"),
        ('"$${literal} \\u00e9"', "${literal} é"),
        ('lookup(var.tags, "Nope", "dflt")', "dflt"),
        ('merge(var.tags, null, { X = "y" })', {"Env": "dev", "X": "y"}),
        ('"${lower("ABC")}"', "abc"),
        ('format("%s-%d", "a", 1)', "a-1"),
        ('var.a == "x" ? "yes" : "no"', "yes"),
        ("!true", False),
        ("1 < 2 && 2 >= 2", True),
        # A known side decides, as in Terraform: count gates of community modules stay decidable.
        ("false && var.open", False),
        ("var.open && false", False),
        ("true || var.open", True),
        ("length([]) > 0 && length(var.open) > 0 ? 2 : 0", 0),
        ('{ (local.k) = "v" }', {"KK": "v"}),
        ("var.tags.Env", "dev"),
        ('concat(["a"], var.l)', ["a", "a"]),
        ('{\n  K = "v" # comment\n  L = 2\n}', {"K": "v", "L": 2}),
    ],
)
def test_evaluated(expression: str, expected: Any) -> None:
    assert value_of(expression) == expected


@pytest.mark.parametrize(
    ("expression", "why"),
    [
        ("<<EOT\nhello\nEOT", "heredoc"),
        ('"%{ if var.a == "x" }yes%{ endif }"', "template directives"),
        ("aws_instance.web[*].id", "only known after apply"),
        ("[for x in var.l : upper(x)]", "`for` expressions"),
        ("jsonencode({ a = 1 })", "jsonencode() is not evaluated"),
        ("var.nope", "var.nope is not defined"),
        ('var.open == "x" ? "a" : "b"', "var.open has no default"),
        ("true && var.open", "var.open has no default"),
        ("var.open || false", "var.open has no default"),
        ("merge(var.tags...)", "expanded arguments"),
    ],
)
def test_unknown_with_a_reason(expression: str, why: str) -> None:
    result = value_of(expression)
    assert isinstance(result, Unknown)
    assert why in result.reason


def test_merge_with_an_unknown_map_is_partial() -> None:
    result = value_of('merge({ Name = "n" }, var.open, { Env = "dev" })')
    assert isinstance(result, PartialMap)
    assert result.values["Env"] == "dev"
    assert isinstance(result.values["Name"], Unknown)  # var.open may override it
    assert "var.open has no default" in result.reason
