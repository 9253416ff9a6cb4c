"""SNS topics that deliver to Lambda as AWS does: asynchronously, with the SNS event shape.

moto's SNS hands a Lambda subscription's message to ``LambdaFunction.invoke`` (Docker) inside the
``Publish`` call. Here a ``lambda`` subscription is re-classed right after moto creates it (as the
Lambda backend re-classes functions) so that ``Publish`` returns at once and the function runs
through the Lambda backend's public ``invoke`` with ``InvocationType=Event`` (the execution
environments and logs of every other invocation). As on AWS:

- the event is ``{"Records": [{"EventSource": "aws:sns", "EventVersion": "1.0",
  "EventSubscriptionArn", "Sns": {"Type": "Notification", "MessageId", "TopicArn", "Subject",
  "Message", "Timestamp", "SignatureVersion", "Signature", "SigningCertUrl", "UnsubscribeUrl",
  "MessageAttributes": {name: {"Type", "Value"}}}}]}``;
- the function's resource policy must let ``sns.amazonaws.com`` call ``lambda:InvokeFunction``
  (for the topic's ARN when the statement names one: ``aws_lambda_permission`` with
  ``source_arn``); otherwise the message is not delivered, and ``Publish`` still succeeds;
- filter policies and ``MessageStructure=json`` apply as moto applies them.
"""

from __future__ import annotations

import contextlib
import datetime
import json
from typing import Any

from moto.sns.models import SNSBackend, Subscription

from pytest_mlinfra.emulator import lambda_permissions


class LambdaSubscription(Subscription):
    def publish(
        self,
        message: str,
        message_id: str,
        subject: str | None = None,
        message_attributes: dict[str, Any] | None = None,
        group_id: str | None = None,
        deduplication_id: str | None = None,
        message_structure: str | None = None,
    ) -> None:
        if self.protocol != "lambda":
            super().publish(
                message,
                message_id,
                subject,
                message_attributes,
                group_id,
                deduplication_id,
                message_structure,
            )
            return
        matcher = getattr(self, "_filter_policy_matcher", None)
        if matcher is not None and not matcher.matches(message_attributes, message):
            return
        if message_structure == "json":
            message = self._parse_message_structure(message, self.protocol)
        deliver(self, message, message_id, subject, message_attributes or {})


def sns_event(
    subscription: Subscription, message: str, message_id: str, subject: str | None, attributes: dict[str, Any]
) -> dict[str, Any]:
    topic_arn = subscription.topic.arn
    region = topic_arn.split(":")[3]
    now = datetime.datetime.now(datetime.UTC)
    base = f"https://sns.{region}.amazonaws.com"
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": subscription.arn,
                "Sns": {
                    "Type": "Notification",
                    "MessageId": message_id,
                    "TopicArn": topic_arn,
                    "Subject": subject,
                    "Message": message,
                    "Timestamp": now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z",
                    "SignatureVersion": "1",
                    "Signature": "EXAMPLE",
                    "SigningCertUrl": f"{base}/SimpleNotificationService-0000000000000000000000.pem",
                    "UnsubscribeUrl": f"{base}/?Action=Unsubscribe&SubscriptionArn={subscription.arn}",
                    "MessageAttributes": {
                        name: {"Type": value.get("Type"), "Value": value.get("Value")}
                        for name, value in attributes.items()
                    },
                },
            }
        ]
    }


def deliver(
    subscription: Subscription, message: str, message_id: str, subject: str | None, attributes: dict[str, Any]
) -> None:
    """Start the function asynchronously with the SNS event, when its policy lets SNS call it."""
    from moto.awslambda.models import lambda_backends

    parts = str(subscription.endpoint).split(":")
    if len(parts) not in (7, 8) or parts[5] != "function":
        return
    name, qualifier = parts[6], (parts[7] if len(parts) == 8 else None)
    backend = lambda_backends[parts[4]][parts[3]]
    allowed = lambda_permissions.allows(
        backend, name, "lambda:InvokeFunction", service="sns.amazonaws.com", source_arn=subscription.topic.arn
    )
    if not allowed:
        return
    payload = json.dumps(sns_event(subscription, message, message_id, subject, attributes)).encode()
    with contextlib.suppress(Exception):  # a deleted function: AWS drops it, Publish already succeeded
        backend.invoke(name, qualifier, payload, {"X-Amz-Invocation-Type": "Event"}, {})


class LambdaDeliveringSNSBackend(SNSBackend):
    """moto's SNS backend whose Lambda subscriptions deliver through the Lambda backend's invoke."""

    @property
    def _url_module(self) -> Any:  # moto finds a backend's URLs from its class's module name
        import moto.sns.urls

        return moto.sns.urls

    def subscribe(self, topic_arn: str, endpoint: str, protocol: str) -> Subscription:
        subscription = super().subscribe(topic_arn, endpoint, protocol)
        if protocol == "lambda" and type(subscription) is Subscription:
            setattr(subscription, "__class__", LambdaSubscription)  # noqa: B010
        return subscription
