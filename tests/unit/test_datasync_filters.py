"""DataSync SIMPLE_PATTERN filters as the DataSync user guide describes them."""

from __future__ import annotations

import pytest

from pytest_mlinfra.emulator.datasync_filters import matches, patterns, selected


def test_patterns_split_on_pipe_and_treat_dir_and_dir_slash_alike() -> None:
    rules = [{"FilterType": "SIMPLE_PATTERN", "Value": "/dir/|*.tmp"}, {"Value": "/other"}]
    assert patterns(rules) == ["/dir", "*.tmp", "/other"]
    assert patterns(None) == []


@pytest.mark.parametrize(
    ("path", "pattern", "expected"),
    [
        ("dir/a.txt", "/dir", True),  # a folder matches its content
        ("dir", "/dir", True),
        ("dirt/a.txt", "/dir", False),
        ("a/dir/b.txt", "/dir", False),  # a leading / anchors at the location root
        ("a/b/c.tmp", "*.tmp", True),  # a leading * matches at any depth
        ("a/b/model.pt", "model.pt", True),
        ("Dir/a.txt", "/dir", False),  # case sensitive
        ("x[1].txt", "/x[1].txt", True),  # only * is special
    ],
)
def test_matches(path: str, pattern: str, expected: bool) -> None:
    assert matches(path, pattern) is expected


def test_exclude_wins_over_include() -> None:
    assert selected("vocab/a.txt", ["/vocab"], [])
    assert not selected("vocab/a.tmp", ["/vocab"], ["*.tmp"])
    assert not selected("README", ["/vocab"], [])
    assert selected("README", [], [])
