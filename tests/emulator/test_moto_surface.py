"""The moto internals the emulator uses still exist, and the moto range is enforced in one line.

When a moto release moves one of them, this is the test that fails first, with the sentence that
says which name moved and what the emulator used it for (src/pytest_mlinfra/emulator/moto_surface.py).
"""

from __future__ import annotations

import pytest

from pytest_mlinfra.emulator import moto_surface
from pytest_mlinfra.errors import MlinfraError


def test_every_moto_internal_the_emulator_uses_is_there() -> None:
    moved = moto_surface.missing()
    assert not moved, "; ".join(moved)


def test_a_moved_internal_is_named_with_its_use(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        moto_surface, "SURFACE", (("moto.core.base_backend", "NoSuchThing", "registering backends"),)
    )
    assert moto_surface.missing() == [
        "moto moved or removed moto.core.base_backend.NoSuchThing (used for registering backends)"
    ]


def test_the_supported_range_is_pyprojects() -> None:
    wanted = moto_surface.supported_range()
    assert ">=5.2.5" in wanted and "<" in wanted


def test_a_moto_outside_the_range_is_one_line_naming_both(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.metadata

    monkeypatch.setattr(importlib.metadata, "version", lambda name: "5.2.1")
    monkeypatch.delenv(moto_surface.ALLOW_UNTESTED_ENV, raising=False)
    with pytest.raises(MlinfraError) as raised:
        moto_surface.check_moto_version()
    text = str(raised.value)
    assert "moto 5.2.1 is installed" in text and moto_surface.supported_range() in text
    assert "pip install 'moto[server]" in text and "pytest-mlinfra[local]" not in text


def test_the_canary_may_try_an_untested_moto(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import importlib.metadata

    monkeypatch.setattr(importlib.metadata, "version", lambda name: "9.0.0")
    monkeypatch.setenv(moto_surface.ALLOW_UNTESTED_ENV, "1")
    moto_surface.check_moto_version()
    assert "moto 9.0.0 is installed" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("make", "fields"),
    [
        (lambda: _json_rest_error(), ("InvalidRequestException", "gone", 400)),
        (lambda: _service_exception(), ("InvalidRequestException", "gone", 400)),
        (lambda: ValueError("not moto"), None),
    ],
)
def test_moto_errors_of_either_generation_give_code_message_status(make, fields) -> None:  # type: ignore[no-untyped-def]
    assert moto_surface.error_fields(make()) == fields


def _json_rest_error() -> Exception:
    from moto.core.exceptions import JsonRESTError

    return JsonRESTError("InvalidRequestException", "gone")


def _service_exception() -> Exception:
    try:
        from moto.core.exceptions import ServiceException
    except ImportError:  # moto before 5.2.6: emulate its shape

        class ServiceException(Exception):  # type: ignore[no-redef]
            def __init__(self, code: str, message: str) -> None:
                self.code, self.message = code, message

    return ServiceException("InvalidRequestException", "gone")
