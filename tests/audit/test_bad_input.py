"""Bad input is exit 2 with one line naming the file, never a traceback, never exit 1 ("findings").

Hypothesis corrupts real plan/state documents (data/planstack) at every place the audit reads, and
throws arbitrary JSON and text at it. ``EXAMPLES`` is the example count the closing note cites.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_mlinfra.audit.cli import main

DATA = Path(__file__).parent / "data" / "planstack"
DOCS = {
    name: json.loads((DATA / name).read_text())
    for name in ("plan.json", "state.json", "terraform.tfstate.json")
}
EXAMPLES = {"corrupted": 300, "arbitrary": 200, "hcl": 60}
Path_ = tuple[str | int, ...]

scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=8))
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)
lists = st.lists(json_values, max_size=2)
objects = st.dictionaries(st.text(max_size=4), json_values, max_size=2)
NOT = {  # for each kind of place, values Terraform never writes there
    "object": st.one_of(st.booleans(), st.integers(), st.text(max_size=8), lists),
    "list": st.one_of(st.booleans(), st.integers(), st.text(max_size=8), objects),
    "string": st.one_of(st.none(), st.booleans(), st.integers(), lists, objects),
    "tag-value": st.one_of(st.booleans(), st.integers(), st.floats(allow_nan=False), lists, objects),
}
TOP_KEYS = ("planned_values", "resource_changes", "values", "format_version", "terraform_version", "version")


def _tags(values: dict[str, Any], at: Path_) -> Iterator[tuple[Path_, str]]:
    for attr in ("tags", "tags_all"):
        if isinstance(values.get(attr), dict):
            yield (*at, attr), "object"
            yield from (((*at, attr, key), "tag-value") for key in values[attr])


def _module(module: dict[str, Any], at: Path_) -> Iterator[tuple[Path_, str]]:
    yield at, "object"
    for key in ("resources", "child_modules"):
        if key in module:
            yield (*at, key), "list"
    for i, res in enumerate(module.get("resources", [])):
        here = (*at, "resources", i)
        yield here, "object"
        yield from (((*here, k), "string") for k in ("address", "type", "mode") if k in res)
        if isinstance(res.get("values"), dict):
            yield (*here, "values"), "object"
            yield from _tags(res["values"], (*here, "values"))
    for i, child in enumerate(module.get("child_modules", [])):
        yield from _module(child, (*at, "child_modules", i))


def read_places(doc: dict[str, Any]) -> list[tuple[Path_, str]]:
    """Every place of a valid document that the audit reads, with the kind of value Terraform puts there."""
    places: list[tuple[Path_, str]] = []
    if "planned_values" in doc:
        places += [
            (("planned_values",), "object"),
            *_module(doc["planned_values"]["root_module"], ("planned_values", "root_module")),
        ]
        places.append((("resource_changes",), "list"))
        for i, change in enumerate(doc["resource_changes"]):
            places += [(("resource_changes", i), "object"), (("resource_changes", i, "address"), "string")]
            places.append((("resource_changes", i, "change"), "object"))
            if isinstance(change["change"].get("after"), dict):
                places.append((("resource_changes", i, "change", "after"), "object"))
                places += _tags(change["change"]["after"], ("resource_changes", i, "change", "after"))
    elif "values" in doc:
        places += [(("values",), "object"), *_module(doc["values"]["root_module"], ("values", "root_module"))]
    else:
        for i, res in enumerate(doc["resources"]):
            here: Path_ = ("resources", i)
            places += [(here, "object"), *(((*here, k), "string") for k in ("type", "name", "mode"))]
            places.append(((*here, "instances"), "list"))
            for j, inst in enumerate(res["instances"]):
                places += [
                    ((*here, "instances", j), "object"),
                    ((*here, "instances", j, "attributes"), "object"),
                ]
                places += _tags(inst["attributes"], (*here, "instances", j, "attributes"))
    return places  # fmt: skip


PLACES = [(name, path, kind) for name, doc in DOCS.items() for path, kind in read_places(doc)]


def replaced(doc: dict[str, Any], path: Path_, value: Any) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    target: Any = doc
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return doc


def run(path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    code = main([str(path), "--format", "json"])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return code, captured.err.splitlines()


def test_the_places_cover_all_three_shapes() -> None:
    assert {name for name, _, _ in PLACES} == set(DOCS)
    assert len(PLACES) > 100


def test_corrupted_plans_and_states_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "plan.json"

    @settings(max_examples=EXAMPLES["corrupted"], deadline=None, database=None)
    @given(st.sampled_from(PLACES).flatmap(lambda p: st.tuples(st.just(p), NOT[p[2]])))
    def check(case: tuple[tuple[str, Path_, str], Any]) -> None:
        (name, path, _), value = case
        target.write_text(json.dumps(replaced(DOCS[name], path, value)))
        code, err = run(target, capsys)
        assert code == 2, (name, path, value)
        assert len(err) == 1 and err[0].startswith(f"mlinfra-audit: error: {target}"), err

    check()


def test_arbitrary_json_never_crashes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "doc.json"
    plan_like = st.fixed_dictionaries({}, optional={k: json_values for k in (*TOP_KEYS, "resources")})

    @settings(max_examples=EXAMPLES["arbitrary"], deadline=None, database=None)
    @given(st.one_of(json_values, plan_like))
    def check(doc: Any) -> None:
        target.write_text(json.dumps(doc))
        code, err = run(target, capsys)
        assert code in (0, 1, 2)
        if code == 2:
            assert len(err) == 1 and str(target) in err[0], err
        else:
            assert err == []

    check()


@settings(
    max_examples=EXAMPLES["hcl"],
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(st.text(alphabet='resource"aws_s3_bucket{}=[]()$:.,\n #tagscount?!0123', max_size=60))
def test_arbitrary_hcl_never_crashes(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str) -> None:
    (tmp_path / "main.tf").write_text(text)
    code, err = run(tmp_path, capsys)
    assert code in (0, 1, 2)
    assert (len(err) == 1 and "main.tf" in err[0]) if code == 2 else err == []


NUMBER_TAG = {"attributes": {"tags": {"Name": 1}}}
RAW_STATE_WITH_NUMBER_TAG = json.dumps({"version": 4, "resources": [
    {"mode": "managed", "type": "aws_s3_bucket", "name": "b", "instances": [NUMBER_TAG]},
]}).encode()  # fmt: skip


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("plan.json", b"\x7fELF\x02\x01\x01\x00\xff\xfe", "is not UTF-8 text"),
        ("plan.json", b"[" * 100_000, "nested too deeply"),
        ("plan.json", b'{"planned_values": {"root_module": {"resources": "x"}}}', "resources is a string"),
        ("plan.json", RAW_STATE_WITH_NUMBER_TAG, 'tags["Name"] is a number'),
        ("main.tf", b"\x00\x01binary\xff", "cannot read"),
        ("main.tf", b'resource "aws_s3_bucket" "b" {\n  tags = {\n', "cannot parse"),
    ],
    ids=["binary-json", "deep-json", "resources-is-a-string", "tag-is-a-number", "binary-tf", "bad-hcl"],
)  # fmt: skip
def test_bad_files_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, content: bytes, expected: str
) -> None:
    (tmp_path / name).write_bytes(content)
    code, err = run(tmp_path / name if name.endswith(".json") else tmp_path, capsys)
    assert code == 2 and len(err) == 1, err
    assert expected in err[0] and name in err[0]
