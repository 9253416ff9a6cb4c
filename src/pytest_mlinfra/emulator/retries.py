"""Answer an SDK's retry of a call the emulator already answered with that same answer.

AWS SDKs (botocore, the Go SDK in the Terraform provider) mark each attempt of one call with the
headers ``amz-sdk-invocation-id`` (the same on every attempt) and ``amz-sdk-request: attempt=N``.
On a busy machine the Terraform provider was seen to drop the connection of a call the emulator
had carried out and answered 200 (it closed as the answer arrived), then send the call again: its
``RevokeSecurityGroupEgress`` then failed with ``InvalidPermission.NotFound`` and its
``CreateFunction`` with ``ResourceConflictException``. AWS would run such a retry again too; but
the drop comes from a starved client on the test machine, not from the stack under test, and a
failure there would be a false alarm about the stack. So the emulator keeps the successful answers
to changing calls (not GET or HEAD, which run again harmlessly) for a while and replays them to a
retry (logged at INFO); a retry of a call that failed (5xx, a throttle, a 4xx) runs again, as on
AWS.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import chain
from typing import Any

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

_ATTEMPT = re.compile(r"attempt=(\d+)")
_KEPT = 512  # answers kept: an SDK retries within seconds, so a few hundred calls back is plenty
_KEPT_BODY = 64 << 10  # bigger answers are not kept (a retry of such a call runs again): <= 32 MiB in all

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Answer:
    status: str
    headers: list[tuple[str, str]]
    body: bytes


def attempt_of(environ: dict[str, Any]) -> int:
    """The SDK's attempt number (1 for the first, and for a caller that does not say)."""
    match = _ATTEMPT.search(environ.get("HTTP_AMZ_SDK_REQUEST", ""))
    return int(match.group(1)) if match else 1


class ReplayAnsweredRetries:
    def __init__(self, app: WSGIApp, kept: int = _KEPT) -> None:
        self.app = app
        self.kept = kept
        self._answers: OrderedDict[str, Answer] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        invocation = environ.get("HTTP_AMZ_SDK_INVOCATION_ID", "")
        if not invocation or environ.get("REQUEST_METHOD") in ("GET", "HEAD", "OPTIONS"):
            return self.app(environ, start_response)
        attempt = attempt_of(environ)
        if attempt > 1:
            with self._lock:
                answer = self._answers.get(invocation)
            if answer is not None:
                log.info("attempt %d of %s: the earlier attempt's answer again", attempt, invocation)
                start_response(answer.status, answer.headers)
                return [answer.body]
        return self._run_and_keep(invocation, environ, start_response)

    def _run_and_keep(
        self, invocation: str, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        started: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            started.update(status=status, headers=list(headers))
            return start_response(status, headers, exc_info)

        result = self.app(environ, capture)
        chunks: list[bytes] = []
        size = 0
        iterator: Iterator[bytes] = iter(result)
        for chunk in iterator:
            chunks.append(chunk)
            size += len(chunk)
            if size > _KEPT_BODY:  # too big to keep: hand over the rest as it comes
                return _Streamed(chain(chunks, iterator), result)
        _close(result)
        if str(started.get("status", "")).startswith("2"):
            with self._lock:
                self._answers[invocation] = Answer(started["status"], started["headers"], b"".join(chunks))
                while len(self._answers) > self.kept:
                    self._answers.popitem(last=False)
        return chunks


class _Streamed:
    """The rest of a big answer, closing the app's iterable when the server is done (WSGI's rule)."""

    def __init__(self, chunks: Iterator[bytes], result: Iterable[bytes]) -> None:
        self._chunks = chunks
        self._result = result

    def __iter__(self) -> Iterator[bytes]:
        return self._chunks

    def close(self) -> None:
        _close(self._result)


def _close(result: Iterable[bytes]) -> None:
    close = getattr(result, "close", None)
    if close is not None:
        close()
