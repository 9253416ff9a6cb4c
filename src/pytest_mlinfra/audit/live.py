"""Audit what is actually deployed, read from AWS (or an emulator) with boto3.

The Resource Groups Tagging API is the broad sweep, but it misses resources that were never tagged,
which is exactly what a cost audit hunts for; so EFS, DataSync, Lambda and S3 are also listed
through their own APIs. A service that cannot answer (not implemented, access denied) turns into
``undecidable`` findings rather than a crash; missing credentials or an unreachable endpoint are
user errors (:class:`MlinfraError`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from pytest_mlinfra.audit.findings import Finding
from pytest_mlinfra.audit.policy import Policy
from pytest_mlinfra.audit.tagset import TagSet
from pytest_mlinfra.errors import MlinfraError

ClientFactory = Callable[[str, str], Any]
"""``factory(service, region)`` -> a boto3 client (configured with endpoint/credentials as needed)."""

_AUTH_CODES = {
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "ExpiredToken",
    "ExpiredTokenException",
    "InvalidSignatureException",
    "SignatureDoesNotMatch",
    "AuthFailure",
    "InvalidAccessKeyId",
}


@dataclass
class LiveTags:
    """Tags read for one ARN; ``tags`` None means unreadable (``reason`` says why)."""

    tags: dict[str, str] | None
    reason: str = ""


class _ServiceFailed(Exception):
    """A whole listing call failed in a way that leaves its resources undecidable."""


class _ServiceAbsent(_ServiceFailed):
    """The endpoint has no such service (HTTP 501, e.g. EFS/DataSync on LocalStack Community)."""


def _failed(exc: Exception, service: str) -> _ServiceFailed:
    from botocore.exceptions import ClientError

    if isinstance(exc, ClientError) and exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 501:
        return _ServiceAbsent(_reason(exc, service))
    return _ServiceFailed(_reason(exc, service))


@dataclass
class LiveInventory:
    """What the live sweep saw: ARN -> tags (None: unreadable), and services that could not be listed."""

    tags: dict[str, LiveTags]
    failures: list[Finding]

    def narrowed(self, tag_filters: Mapping[str, Sequence[str]]) -> LiveInventory:
        """Only resources matching ``tag_filters`` (and those whose tags could not be read)."""
        filters = {k: tuple(v) for k, v in tag_filters.items()}
        if not filters:
            return self
        kept = {arn: t for arn, t in self.tags.items() if t.tags is None or _matches(t.tags, filters)}
        return LiveInventory(kept, self.failures)


def live_inventory(
    client_factory: ClientFactory,
    regions: Sequence[str],
    tag_filters: Mapping[str, Sequence[str]] | None = None,
) -> LiveInventory:
    """Every resource visible in ``regions`` (narrowed by ``tag_filters``, key -> values, empty: any)."""
    filters = {k: tuple(v) for k, v in (tag_filters or {}).items()}
    seen: dict[str, LiveTags] = {}
    failures: list[Finding] = []
    s3_done = False
    for region in regions:
        found: dict[str, LiveTags] = {}
        sweep = partial(_tagging, client_factory, region, filters)
        found.update(_guard(failures, "resourcegroupstaggingapi", region, sweep))
        collectors: list[tuple[str, Callable[[], Iterable[tuple[str, LiveTags]]]]] = [
            ("elasticfilesystem", partial(_efs_file_systems, client_factory, region)),
            ("elasticfilesystem", partial(_efs_access_points, client_factory, region)),
            ("datasync", partial(_datasync, client_factory, region)),
            ("lambda", partial(_lambda, client_factory, region)),
        ]
        if not s3_done:  # S3 lists every bucket from any region; bucket ARNs carry no region
            collectors.append(("s3", partial(_s3, client_factory, region, regions)))
            s3_done = True
        for service, collect in collectors:
            for arn, read in _guard(failures, service, region, collect).items():
                if read.tags is None and arn in found and found[arn].tags is not None:
                    continue  # the sweep already read this resource's tags
                if read.tags is not None and filters and not _matches(read.tags, filters):
                    found.pop(arn, None)
                    continue
                found[arn] = read
        seen.update(found)
    return LiveInventory(seen, failures)


def audit_live(
    client_factory: ClientFactory,
    regions: Sequence[str],
    policy: Policy,
    tag_filters: Mapping[str, Sequence[str]] | None = None,
    inventory: LiveInventory | None = None,
) -> list[Finding]:
    """Audit every resource visible in ``regions``; ``tag_filters`` (key -> values, empty: any value)
    narrows to one stack, e.g. ``{"mlinfra:run-id": ["abc123"]}``. ``inventory``: one already swept."""
    live = inventory or live_inventory(client_factory, regions, tag_filters)
    findings = list(live.failures)
    for arn, read in sorted(live.tags.items()):
        if policy.is_exempt(arn):
            continue
        rtype = arn_type(arn)
        if read.tags is None:
            also = " (so the tag filter could not be applied either)" if tag_filters else ""
            findings.append(
                Finding(
                    arn,
                    "undecidable",
                    policy.require,
                    rtype,
                    f"cannot read its tags: {read.reason}{also}",
                    "live",
                )
            )
            continue
        findings.extend(policy.check(arn, rtype, TagSet.known(read.tags), "live"))
    findings.sort()
    return findings


def _guard(
    findings: list[Finding], service: str, region: str, collect: Callable[[], Iterable[tuple[str, LiveTags]]]
) -> dict[str, LiveTags]:
    """Run one collector; a failure of the whole service becomes one ``undecidable`` finding."""
    try:
        return dict(collect())
    except _ServiceAbsent:
        return {}  # nothing can be deployed to a service the endpoint does not have
    except _ServiceFailed as exc:
        findings.append(
            Finding(
                f"{service}:{region}",
                "undecidable",
                (),
                service,
                f"cannot list {service} resources in {region}: {exc}",
                "live",
            )
        )
        return {}


def _reason(exc: Exception, service: str) -> str:
    """Why a call failed, or raise MlinfraError when no call can succeed (credentials, endpoint)."""
    from botocore.exceptions import (
        ClientError,
        ConnectTimeoutError,
        EndpointConnectionError,
        NoCredentialsError,
        PartialCredentialsError,
    )

    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        raise MlinfraError(
            "no AWS credentials found for --live",
            "set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (any dummy values for an emulator)",
        ) from None
    if isinstance(exc, EndpointConnectionError | ConnectTimeoutError):
        raise MlinfraError(
            f"cannot reach the {service} endpoint ({exc})", "check --endpoint-url, or that the emulator runs"
        ) from None
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code") or exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "?"))
        if code in _AUTH_CODES:
            raise MlinfraError(
                f"AWS rejected the credentials ({code})", "check the profile or keys"
            ) from None
        message = " ".join(str(error.get("Message") or "").split())[:120]
        return f"{code} {message}".strip()
    return " ".join(str(exc).split())[:160] or type(exc).__name__


def _call(service: str, fn: Callable[..., Any], **kwargs: Any) -> Any:
    """One listing call; failures that leave the whole service unknown raise _ServiceFailed."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return fn(**kwargs)
    except (ClientError, BotoCoreError) as exc:
        raise _failed(exc, service) from None


def _read_tags(service: str, fn: Callable[[], dict[str, str]]) -> LiveTags:
    """One per-resource tag read; a failure makes just that resource undecidable."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return LiveTags(fn())
    except (ClientError, BotoCoreError) as exc:
        return LiveTags(None, _reason(exc, service))


def _pages(service: str, client: Any, operation: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
    """Follow NextToken/Marker/PaginationToken through boto3's paginator."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield from client.get_paginator(operation).paginate(**kwargs)
    except (ClientError, BotoCoreError) as exc:
        raise _failed(exc, service) from None


def _pairs(items: Iterable[Mapping[str, Any]] | None) -> dict[str, str]:
    return {str(t["Key"]): str(t.get("Value", "")) for t in items or ()}


def _matches(tags: Mapping[str, str], filters: Mapping[str, tuple[str, ...]]) -> bool:
    return all(k in tags and (not values or tags[k] in values) for k, values in filters.items())


def _tagging(
    factory: ClientFactory, region: str, filters: Mapping[str, tuple[str, ...]]
) -> Iterator[tuple[str, LiveTags]]:
    client = factory("resourcegroupstaggingapi", region)
    kwargs: dict[str, Any] = {"ResourcesPerPage": 100}
    if filters:
        kwargs["TagFilters"] = [
            {"Key": k, "Values": list(v)} if v else {"Key": k} for k, v in filters.items()
        ]
    for page in _pages("resourcegroupstaggingapi", client, "get_resources", **kwargs):
        for item in page.get("ResourceTagMappingList", ()):
            yield item["ResourceARN"], LiveTags(_pairs(item.get("Tags")))


def _efs_file_systems(factory: ClientFactory, region: str) -> Iterator[tuple[str, LiveTags]]:
    client = factory("efs", region)
    for page in _pages("elasticfilesystem", client, "describe_file_systems"):
        for fs in page.get("FileSystems", ()):
            yield fs["FileSystemArn"], LiveTags(_pairs(fs.get("Tags")))


def _efs_access_points(factory: ClientFactory, region: str) -> Iterator[tuple[str, LiveTags]]:
    client = factory("efs", region)
    for page in _pages("elasticfilesystem", client, "describe_access_points"):
        for ap in page.get("AccessPoints", ()):
            yield ap["AccessPointArn"], LiveTags(_pairs(ap.get("Tags")))


def _datasync(factory: ClientFactory, region: str) -> Iterator[tuple[str, LiveTags]]:
    client = factory("datasync", region)
    arns = [
        loc["LocationArn"]
        for page in _pages("datasync", client, "list_locations")
        for loc in page.get("Locations", ())
    ]
    arns += [
        task["TaskArn"] for page in _pages("datasync", client, "list_tasks") for task in page.get("Tasks", ())
    ]
    for arn in arns:
        yield arn, _read_tags("datasync", partial(_datasync_tags, client, arn))


def _datasync_tags(client: Any, arn: str) -> dict[str, str]:
    tags: dict[str, str] = {}
    kwargs: dict[str, Any] = {"ResourceArn": arn}
    while True:
        page = client.list_tags_for_resource(**kwargs)
        tags.update(_pairs(page.get("Tags")))
        if not page.get("NextToken"):
            return tags
        kwargs["NextToken"] = page["NextToken"]


def _lambda(factory: ClientFactory, region: str) -> Iterator[tuple[str, LiveTags]]:
    client = factory("lambda", region)
    for page in _pages("lambda", client, "list_functions"):
        for fn in page.get("Functions", ()):
            arn = fn["FunctionArn"]
            yield arn, _read_tags("lambda", partial(_lambda_tags, client, arn))


def _lambda_tags(client: Any, arn: str) -> dict[str, str]:
    return {str(k): str(v) for k, v in client.list_tags(Resource=arn).get("Tags", {}).items()}


def _s3(factory: ClientFactory, region: str, regions: Sequence[str]) -> Iterator[tuple[str, LiveTags]]:
    client = factory("s3", region)
    listing = _call("s3", client.list_buckets)
    for bucket in listing.get("Buckets", ()):
        name = bucket["Name"]
        if _bucket_region(client, name) in (*regions, None):
            yield f"arn:aws:s3:::{name}", _read_tags("s3", partial(_bucket_tags, client, name))


def _bucket_region(client: Any, name: str) -> str | None:
    """The bucket's region, or None when it cannot be read (then the bucket is kept, not dropped)."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return str(client.get_bucket_location(Bucket=name).get("LocationConstraint") or "us-east-1")
    except (ClientError, BotoCoreError):
        return None


def _bucket_tags(client: Any, name: str) -> dict[str, str]:
    from botocore.exceptions import ClientError

    try:
        return _pairs(client.get_bucket_tagging(Bucket=name).get("TagSet"))
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "NoSuchTagSet":
            return {}
        raise


def arn_type(arn: str) -> str:
    """``arn:aws:elasticfilesystem:r:a:file-system/fs-1`` -> ``elasticfilesystem:file-system``."""
    parts = arn.split(":", 5)
    if len(parts) < 6:
        return "unknown"
    service, resource = parts[2], parts[5]
    kind = resource.split("/", 1)[0].split(":", 1)[0] if ("/" in resource or ":" in resource) else ""
    if service == "s3" and not kind:
        kind = "bucket"
    return f"{service}:{kind}" if kind else service
