"""An SDK's retry of a call the emulator already answered gets that answer, not a second run.

The calls go through the real server with botocore; a ``before-send`` hook makes an attempt look
like the SDK's second attempt of an earlier call (the same ``amz-sdk-invocation-id``), which is what
the emulator received when a busy machine lost its first answer.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from pytest_mlinfra.emulator.retries import ReplayAnsweredRetries, attempt_of

from .conftest import unique

DEFAULT_EGRESS = [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]


class AsAttempt:
    """Send the next calls of ``client`` as attempt ``n`` of one SDK invocation."""

    def __init__(self, client: Any) -> None:
        self.invocation = str(uuid.uuid4())
        self.attempt = 1
        client.meta.events.register("before-send.ec2.*", self._mark)

    def new_call(self) -> None:
        self.invocation, self.attempt = str(uuid.uuid4()), 1

    def _mark(self, request: Any, **_: Any) -> None:
        request.headers["amz-sdk-invocation-id"] = self.invocation
        request.headers["amz-sdk-request"] = f"attempt={self.attempt}; max=3"


@pytest.fixture
def ec2(client: Callable[[str], Any]) -> Any:
    return client("ec2")


@pytest.fixture
def group(ec2: Any) -> Iterator[str]:
    vpc = ec2.create_vpc(CidrBlock="10.7.0.0/16")["Vpc"]["VpcId"]
    group_id = ec2.create_security_group(GroupName=unique("sg"), Description="d", VpcId=vpc)["GroupId"]
    yield group_id
    ec2.delete_security_group(GroupId=group_id)
    ec2.delete_vpc(VpcId=vpc)


def test_a_retry_of_an_answered_revoke_gets_the_same_answer(ec2: Any, group: str) -> None:
    marks = AsAttempt(ec2)
    ec2.revoke_security_group_egress(GroupId=group, IpPermissions=DEFAULT_EGRESS)
    marks.attempt = 2
    assert ec2.revoke_security_group_egress(GroupId=group, IpPermissions=DEFAULT_EGRESS)["Return"] is True
    # A new call (another invocation id) runs, and AWS's answer to it is that the rule is gone.
    marks.new_call()
    with pytest.raises(ClientError) as error:
        ec2.revoke_security_group_egress(GroupId=group, IpPermissions=DEFAULT_EGRESS)
    assert error.value.response["Error"]["Code"] == "InvalidPermission.NotFound"


def test_a_retry_of_a_create_creates_nothing_more(ec2: Any, group: str) -> None:
    vpc = ec2.describe_security_groups(GroupIds=[group])["SecurityGroups"][0]["VpcId"]
    marks = AsAttempt(ec2)
    name = unique("twice")
    first = ec2.create_security_group(GroupName=name, Description="d", VpcId=vpc)["GroupId"]
    marks.attempt = 2
    assert ec2.create_security_group(GroupName=name, Description="d", VpcId=vpc)["GroupId"] == first
    marks.new_call()
    found = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": [name]}])["SecurityGroups"]
    assert [g["GroupId"] for g in found] == [first]
    ec2.delete_security_group(GroupId=first)


def test_a_retry_of_a_call_that_failed_runs_again(ec2: Any, group: str) -> None:
    ec2.revoke_security_group_egress(GroupId=group, IpPermissions=DEFAULT_EGRESS)
    marks = AsAttempt(ec2)
    with pytest.raises(ClientError):  # attempt 1: the rule is not there
        ec2.revoke_security_group_egress(GroupId=group, IpPermissions=DEFAULT_EGRESS)
    marks.invocation, saved = str(uuid.uuid4()), marks.invocation
    ec2.authorize_security_group_egress(GroupId=group, IpPermissions=DEFAULT_EGRESS)
    marks.invocation, marks.attempt = saved, 2
    assert ec2.revoke_security_group_egress(GroupId=group, IpPermissions=DEFAULT_EGRESS)["Return"] is True


def _app(status: str, chunks: list[bytes], calls: list[str]) -> Any:
    class Body:
        closed = False

        def __iter__(self) -> Iterator[bytes]:
            return iter(chunks)

        def close(self) -> None:
            Body.closed = True

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        calls.append(environ["REQUEST_METHOD"])
        start_response(status, [("Content-Type", "text/plain")])
        return Body()

    return app, Body


def _environ(method: str, attempt: int, invocation: str = "inv-1") -> dict[str, Any]:
    return {
        "REQUEST_METHOD": method,
        "HTTP_AMZ_SDK_INVOCATION_ID": invocation,
        "HTTP_AMZ_SDK_REQUEST": f"attempt={attempt}; max=3",
    }


def _call(app: Any, environ: dict[str, Any]) -> tuple[str, bytes]:
    seen: list[str] = []
    body = b"".join(app(environ, lambda status, headers, exc_info=None: seen.append(status)))
    return seen[0], body


def test_reads_run_again_and_big_answers_are_streamed_not_kept() -> None:
    calls: list[str] = []
    inner, body = _app("200 OK", [b"x" * 700_000, b"y" * 700_000], calls)
    app = ReplayAnsweredRetries(inner)
    assert _call(app, _environ("GET", 1))[1][:1] == b"x"
    assert _call(app, _environ("GET", 2)) == ("200 OK", b"x" * 700_000 + b"y" * 700_000)
    result = app(_environ("POST", 1, "big"), lambda *a: None)
    assert b"".join(result) == b"x" * 700_000 + b"y" * 700_000
    result.close()  # type: ignore[attr-defined]
    assert body.closed
    app(_environ("POST", 2, "big"), lambda *a: None)
    assert calls == ["GET", "GET", "POST", "POST"]


def test_a_caller_without_sdk_headers_is_attempt_one() -> None:
    assert attempt_of({}) == 1
    assert attempt_of({"HTTP_AMZ_SDK_REQUEST": "ttl=20261206T010203Z; attempt=3; max=5"}) == 3
