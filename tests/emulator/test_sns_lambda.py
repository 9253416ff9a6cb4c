"""SNS to Lambda on the embedded AWS: Publish returns at once, the function gets the SNS event."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from pytest_mlinfra.emulator import EmbeddedAWS


def wait_for_event(
    client: Callable[[str], Any], function: str, timeout_s: float = 20
) -> dict[str, Any] | None:
    """The first event the ``log_event`` handler printed to its log group, or None after the timeout."""
    logs = client("logs")
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for event in logs.filter_log_events(logGroupName=f"/aws/lambda/{function}")["events"]:
            if event["message"].startswith("EVENT "):
                return dict(json.loads(event["message"][len("EVENT ") :]))
        time.sleep(0.1)
    return None


def _topic_to(client: Callable[[str], Any], function: str, allow: bool) -> str:
    client("logs").create_log_group(logGroupName=f"/aws/lambda/{function}")
    sns = client("sns")
    topic = sns.create_topic(Name=f"t-{function}")["TopicArn"]
    arn = client("lambda").get_function(FunctionName=function)["Configuration"]["FunctionArn"]
    sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=arn)
    if allow:
        client("lambda").add_permission(
            FunctionName=function,
            StatementId="sns",
            Action="lambda:InvokeFunction",
            Principal="sns.amazonaws.com",
            SourceArn=topic,
        )
    return str(topic)


def test_publish_reaches_the_function_with_the_sns_event(
    aws: EmbeddedAWS, client: Callable[[str], Any], make_function: Callable[..., str]
) -> None:
    name = make_function("log_event")
    topic = _topic_to(client, name, allow=True)
    started = time.perf_counter()
    client("sns").publish(
        TopicArn=topic,
        Message='{"text": "Tom Cruise"}',
        Subject="predict",
        MessageAttributes={"kind": {"DataType": "String", "StringValue": "ner"}},
    )
    assert time.perf_counter() - started < 2, "Publish does not wait for the function (cold start ~1 s)"
    event = wait_for_event(client, name)
    assert event is not None, "the function never logged the SNS event"
    record = event["Records"][0]
    assert record["EventSource"] == "aws:sns" and record["EventSubscriptionArn"].startswith(topic + ":")
    sns = record["Sns"]
    assert (sns["Type"], sns["TopicArn"], sns["Subject"]) == ("Notification", topic, "predict")
    assert sns["Message"] == '{"text": "Tom Cruise"}'
    assert sns["MessageAttributes"] == {"kind": {"Type": "String", "Value": "ner"}}


def test_without_permission_nothing_is_delivered(
    aws: EmbeddedAWS, client: Callable[[str], Any], make_function: Callable[..., str]
) -> None:
    name = make_function("log_event")
    topic = _topic_to(client, name, allow=False)
    client("sns").publish(TopicArn=topic, Message="{}")
    assert wait_for_event(client, name, timeout_s=3) is None
