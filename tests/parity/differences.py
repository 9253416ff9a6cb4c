"""Known differences between the embedded AWS and LocalStack, each with its reason.

Where the two disagree, AWS decides: the reason says what AWS does and where that is documented.
An entry whose scenario no longer differs fails the parity test (STALE), so this list stays true.
"""

from __future__ import annotations

COMMUNITY_LACKS = "LocalStack Community has no {service} (501); the embedded AWS implements it"
NO_JSON_CHECK = (
    "LocalStack only checks that the payload is UTF-8 and hands the rest to the runtime "
    "(Runtime.UnmarshalError, HTTP 200); AWS's front end parses the JSON and answers 400 "
    "InvalidRequestContentException 'Could not parse request body into json: ...' (aws-cli#6433, "
    "aws-lambda-developer-guide#382; LocalStack's own code marks full payload verification TODO)"
)

KNOWN_DIFFERENCES: dict[str, str] = {
    "s3.delete-encryption-falls-back": (
        "LocalStack returns an empty ServerSideEncryptionConfiguration after DeleteBucketEncryption; "
        "AWS resets the bucket to SSE-S3 (DeleteBucketEncryption API reference), as the embedded AWS does"
    ),
    "lambda.invoke-over-6mb": (
        "LocalStack 4.13 does not enforce the synchronous request limit; AWS answers 413 "
        "RequestEntityTooLargeException over 6 MB (Invoke API reference, Lambda quotas)"
    ),
    "lambda.invoke-event-over-1mb": (
        "LocalStack 4.13 does not enforce the asynchronous request limit; AWS answers 413 "
        "RequestEntityTooLargeException over 1 MB for InvocationType=Event (Invoke API reference)"
    ),
    "lambda.invoke-not-json": NO_JSON_CHECK,
    "lambda.invoke-nested-1500": NO_JSON_CHECK + "; the 1,000-level limit is Jackson's default",
    "lambda.url-iam-unsigned": (
        "LocalStack 4.13 does not enforce AuthType=AWS_IAM on function URLs and runs the function (200); "
        'AWS refuses a request without a SigV4 signature with 403 {"Message":"Forbidden"} '
        "(Lambda developer guide, function URLs: security and auth model)"
    ),
    "apigw.http-api-without-permission": COMMUNITY_LACKS.format(service="API Gateway v2 (HTTP APIs)"),
    "efs.file-system-size": COMMUNITY_LACKS.format(service="EFS"),
    "datasync.efs-location-without-mount-target": COMMUNITY_LACKS.format(service="DataSync"),
    "datasync.list-locations": COMMUNITY_LACKS.format(service="DataSync"),
}
