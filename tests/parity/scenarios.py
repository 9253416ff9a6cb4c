"""The one list of parity scenarios: boto3 calls whose answers must agree with AWS on every target.

Each scenario takes :class:`~tests.parity.harness.Clients` and returns what it saw
(:class:`~tests.parity.harness.Seen`) or lets the ``ClientError`` out (status + code are compared).
Names are unique within a run (each run is against a fresh endpoint). The Terraform stack scenario
lives in ``test_parity.py`` (it needs the toolchain).
"""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from typing import Any

from pytest_mlinfra.http_client import HttpClient, HttpResponse

from .harness import REGION, Clients, Scenario, Seen

HANDLER = "def handler(event, context):\n    return {'event': event}\n"
VPC_ACCESS = "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"


def _name(prefix: str) -> str:
    return f"parity-{prefix}-{uuid.uuid4().hex[:6]}"


def _bucket(c: Clients) -> str:
    if "bucket" not in c.scratch:
        c.scratch["bucket"] = _name("bucket")
        c("s3").create_bucket(Bucket=c.scratch["bucket"])
    return str(c.scratch["bucket"])


def _function(c: Clients, key: str = "function", source: str = HANDLER) -> str:
    """One function per ``key`` and run (created once, waited until Active as AWS clients must);
    the default is the echo function."""
    if key not in c.scratch:
        c.scratch.setdefault("role", None)
        role = (
            c.scratch["role"]
            or c("iam").create_role(
                RoleName=_name("role"),
                AssumeRolePolicyDocument=json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Principal": {"Service": "lambda.amazonaws.com"},
                                "Action": "sts:AssumeRole",
                            }
                        ],
                    }
                ),
            )["Role"]["Arn"]
        )
        c.scratch["role"] = role
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("echo.py", source)
        name = _name("fn")
        c("lambda").create_function(
            FunctionName=name,
            Runtime="python3.11",
            Role=role,
            Handler="echo.handler",
            Code={"ZipFile": buffer.getvalue()},
            Timeout=30,
        )
        c("lambda").get_waiter("function_active_v2").wait(FunctionName=name)
        c.scratch[key] = name
    return str(c.scratch[key])


def _invoke(c: Clients, payload: bytes | None, **kw: Any) -> Seen:
    args = {"FunctionName": _function(c), **kw}
    if payload is not None:
        args["Payload"] = payload
    response = c("lambda").invoke(**args)
    body = response.pop("Payload").read()
    facts: dict[str, Any] = {"FunctionError": response.get("FunctionError", "-")}
    if body and not response.get("FunctionError"):
        facts["event"] = json.dumps(json.loads(body).get("event"))[:60]
    return Seen(
        response,
        pick={k: v for k, v in response.items() if k in ("StatusCode", "FunctionError")},
        facts=facts,
    )


# -- S3 -------------------------------------------------------------------------------------------
def s3_default_encryption(c: Clients) -> Seen:
    response = c("s3").get_bucket_encryption(Bucket=_bucket(c))
    rule = response["ServerSideEncryptionConfiguration"]["Rules"][0]
    return Seen(response, facts={"SSEAlgorithm": rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"]})


def s3_object_reports_sse(c: Clients) -> Seen:
    c("s3").put_object(Bucket=_bucket(c), Key="model.pt", Body=b"weights")
    response = c("s3").head_object(Bucket=_bucket(c), Key="model.pt")
    return Seen(response, pick={}, facts={"ServerSideEncryption": response.get("ServerSideEncryption", "-")})


def s3_delete_encryption_falls_back(c: Clients) -> Seen:
    c("s3").delete_bucket_encryption(Bucket=_bucket(c))
    response = c("s3").get_bucket_encryption(Bucket=_bucket(c))
    rules = response.get("ServerSideEncryptionConfiguration", {}).get("Rules") or [{}]
    algorithm = rules[0].get("ApplyServerSideEncryptionByDefault", {}).get("SSEAlgorithm", "-")
    return Seen(response, facts={"SSEAlgorithm": algorithm})


def s3_missing_key(c: Clients) -> Seen:
    return Seen(c("s3").get_object(Bucket=_bucket(c), Key="no/such/key"))


def s3_missing_bucket(c: Clients) -> Seen:
    return Seen(c("s3").head_bucket(Bucket=_name("nobucket")))


# -- IAM / STS ------------------------------------------------------------------------------------
def iam_managed_policy_by_arn(c: Clients) -> Seen:
    response = c("iam").get_policy(PolicyArn=VPC_ACCESS)
    policy = response["Policy"]
    return Seen(response, pick={}, facts={"name": policy["PolicyName"], "path": policy["Path"]})


def iam_attach_managed_policy(c: Clients) -> Seen:
    role = _name("attach")
    c("iam").create_role(RoleName=role, AssumeRolePolicyDocument="{}")
    c("iam").attach_role_policy(RoleName=role, PolicyArn=VPC_ACCESS)
    response = c("iam").list_attached_role_policies(RoleName=role)
    return Seen(response, facts={"attached": [p["PolicyName"] for p in response["AttachedPolicies"]]})


def iam_unknown_policy(c: Clients) -> Seen:
    return Seen(c("iam").get_policy(PolicyArn="arn:aws:iam::aws:policy/NoSuchPolicyAnywhere"))


def iam_missing_role(c: Clients) -> Seen:
    return Seen(c("iam").get_role(RoleName=_name("norole")))


def sts_caller_identity(c: Clients) -> Seen:
    return Seen(c("sts").get_caller_identity())


# -- Lambda Invoke ----------------------------------------------------------------------------------
def lambda_invoke_no_payload(c: Clients) -> Seen:
    return _invoke(c, None)


def lambda_invoke_json(c: Clients) -> Seen:
    return _invoke(c, b'{"text": "Tom Cruise is overrated"}')


def lambda_invoke_over_6mb(c: Clients) -> Seen:
    return _invoke(c, b'"' + b"a" * (6 * 1024 * 1024) + b'"')


def lambda_invoke_event_over_1mb(c: Clients) -> Seen:
    return _invoke(c, b'"' + b"a" * (1024 * 1024 + 16) + b'"', InvocationType="Event")


def lambda_invoke_event_small(c: Clients) -> Seen:
    return _invoke(c, b'{"a": 1}', InvocationType="Event")


def lambda_invoke_invalid_utf8(c: Clients) -> Seen:
    return _invoke(c, b'{"name": "\xff\xfe"}')


def lambda_invoke_binary(c: Clients) -> Seen:
    return _invoke(c, bytes(range(128, 256)))


def lambda_invoke_not_json(c: Clients) -> Seen:
    return _invoke(c, b"hello")


def lambda_invoke_nested_1500(c: Clients) -> Seen:
    return _invoke(c, b"[" * 1500 + b"]" * 1500)


def lambda_invoke_dry_run(c: Clients) -> Seen:
    return _invoke(c, b"{}", InvocationType="DryRun")


def lambda_invoke_missing_function(c: Clients) -> Seen:
    return Seen(c("lambda").invoke(FunctionName=_name("nofn"), Payload=b"{}"))


# -- Lambda function URLs (plain HTTP: the emulator's endpoint with the URL's host as Host) ---------
RAISER = "def handler(event, context):\n    raise ValueError('boom')\n"


def _url(c: Clients, key: str, auth: str = "NONE", source: str = HANDLER) -> HttpClient:
    """A function URL (``NONE``: with the two public permissions AWS requires) and a client for it."""
    if f"url-{key}" not in c.scratch:
        name = _function(c, key, source)
        url = c("lambda").create_function_url_config(FunctionName=name, AuthType=auth)["FunctionUrl"]
        if auth == "NONE":
            lam = c("lambda")
            lam.add_permission(
                FunctionName=name,
                StatementId="url",
                Action="lambda:InvokeFunctionUrl",
                Principal="*",
                FunctionUrlAuthType="NONE",
            )
            lam.add_permission(
                FunctionName=name, StatementId="invoke", Action="lambda:InvokeFunction", Principal="*"
            )
        c.scratch[f"url-{key}"] = url
    return HttpClient(str(c.scratch[f"url-{key}"]), endpoint_url=c.endpoint_url)


def _http(response: HttpResponse, **facts: Any) -> Seen:
    facts.setdefault("body", response.body.decode("utf-8", "replace")[:60])
    return Seen({"ResponseMetadata": {"HTTPStatusCode": response.status}}, pick={}, facts=facts)


def lambda_url_config(c: Clients) -> Seen:
    response = c("lambda").create_function_url_config(FunctionName=_function(c, "urlcfg"), AuthType="AWS_IAM")
    url = response["FunctionUrl"]
    return Seen(response, pick={}, facts={"AuthType": response["AuthType"], "slash": url.endswith("/")})


def lambda_url_post_json(c: Clients) -> Seen:
    response = _url(c, "urlecho").post_json({"text": "Tom Cruise"}, "/predict")
    event = response.json()["event"]
    return _http(
        response,
        body="-",
        content_type=response.headers.get("content-type", "-"),
        event={k: event.get(k) for k in ("version", "routeKey", "rawPath", "body", "isBase64Encoded")},
    )


def lambda_url_binary_body(c: Clients) -> Seen:
    response = _url(c, "urlecho").request(
        "POST", "/", b"\x00\xff", {"Content-Type": "application/octet-stream"}
    )
    event = response.json()["event"]
    return _http(response, body="-", event={k: event.get(k) for k in ("body", "isBase64Encoded")})


def lambda_url_iam_unsigned(c: Clients) -> Seen:
    return _http(_url(c, "urliam", auth="AWS_IAM").post_json({}))


def lambda_url_handler_error(c: Clients) -> Seen:
    return _http(_url(c, "urlraise", source=RAISER).post_json({}))


def lambda_url_unknown_id(c: Clients) -> Seen:
    client = HttpClient("https://" + "a" * 32 + f".lambda-url.{REGION}.on.aws/", endpoint_url=c.endpoint_url)
    return _http(client.post_json({}))


def apigw_http_api_without_permission(c: Clients) -> Seen:
    """An HTTP API whose Lambda proxy integration has no aws_lambda_permission: AWS answers 500."""
    gateway = c("apigatewayv2")
    arn = c("lambda").get_function(FunctionName=_function(c))["Configuration"]["FunctionArn"]
    api = gateway.create_api(Name=_name("api"), ProtocolType="HTTP")
    integration = gateway.create_integration(
        ApiId=api["ApiId"], IntegrationType="AWS_PROXY", IntegrationUri=arn, PayloadFormatVersion="2.0"
    )
    target = f"integrations/{integration['IntegrationId']}"
    gateway.create_route(ApiId=api["ApiId"], RouteKey="POST /predict", Target=target)
    gateway.create_stage(ApiId=api["ApiId"], StageName="$default", AutoDeploy=True)
    client = HttpClient(api["ApiEndpoint"], endpoint_url=c.endpoint_url)
    return _http(client.post_json({}, "/predict"))


# -- EC2 / EFS / DataSync ---------------------------------------------------------------------------
def _network(c: Clients) -> dict[str, str]:
    if "subnet" not in c.scratch:
        vpc = c("ec2").create_vpc(CidrBlock="10.42.0.0/16")["Vpc"]["VpcId"]
        subnet = c("ec2").create_subnet(VpcId=vpc, CidrBlock="10.42.1.0/24", AvailabilityZone=f"{REGION}a")
        group = c("ec2").create_security_group(GroupName=_name("sg"), Description="efs", VpcId=vpc)["GroupId"]
        c.scratch["subnet"] = subnet["Subnet"]["SubnetId"]
        c.scratch["subnet_arn"] = subnet["Subnet"]["SubnetArn"]
        c.scratch["sg_arn"] = f"arn:aws:ec2:{REGION}:{subnet['Subnet']['OwnerId']}:security-group/{group}"
    return {"id": c.scratch["subnet"], "arn": c.scratch["subnet_arn"], "sg_arn": c.scratch["sg_arn"]}


def ec2_missing_subnet(c: Clients) -> Seen:
    return Seen(c("ec2").describe_subnets(SubnetIds=["subnet-0123456789abcdef0"]))


def efs_file_system_size(c: Clients) -> Seen:
    fs = c("efs").create_file_system(CreationToken=_name("fs"))
    c.scratch["fs"] = fs
    described = c("efs").describe_file_systems(FileSystemId=fs["FileSystemId"])
    return Seen(described, pick=described["FileSystems"][0]["SizeInBytes"])


def datasync_efs_location_without_mount_target(c: Clients) -> Seen:
    fs = c.scratch.get("fs") or c("efs").create_file_system(CreationToken=_name("fs"))
    network = _network(c)
    config = {"SubnetArn": network["arn"], "SecurityGroupArns": [network["sg_arn"]]}
    return Seen(c("datasync").create_location_efs(EfsFilesystemArn=fs["FileSystemArn"], Ec2Config=config))


def datasync_list_locations(c: Clients) -> Seen:
    return Seen(c("datasync").list_locations(), pick={})


SCENARIOS: dict[str, Scenario] = {
    "s3.default-encryption": s3_default_encryption,
    "s3.object-reports-sse": s3_object_reports_sse,
    "s3.delete-encryption-falls-back": s3_delete_encryption_falls_back,
    "s3.missing-key": s3_missing_key,
    "s3.missing-bucket": s3_missing_bucket,
    "iam.managed-policy-by-arn": iam_managed_policy_by_arn,
    "iam.attach-managed-policy": iam_attach_managed_policy,
    "iam.unknown-policy": iam_unknown_policy,
    "iam.missing-role": iam_missing_role,
    "sts.caller-identity": sts_caller_identity,
    "lambda.invoke-no-payload": lambda_invoke_no_payload,
    "lambda.invoke-json": lambda_invoke_json,
    "lambda.invoke-over-6mb": lambda_invoke_over_6mb,
    "lambda.invoke-event-over-1mb": lambda_invoke_event_over_1mb,
    "lambda.invoke-event-small": lambda_invoke_event_small,
    "lambda.invoke-invalid-utf8": lambda_invoke_invalid_utf8,
    "lambda.invoke-binary": lambda_invoke_binary,
    "lambda.invoke-not-json": lambda_invoke_not_json,
    "lambda.invoke-nested-1500": lambda_invoke_nested_1500,
    "lambda.invoke-dry-run": lambda_invoke_dry_run,
    "lambda.invoke-missing-function": lambda_invoke_missing_function,
    "lambda.url-config": lambda_url_config,
    "lambda.url-post-json": lambda_url_post_json,
    "lambda.url-binary-body": lambda_url_binary_body,
    "lambda.url-iam-unsigned": lambda_url_iam_unsigned,
    "lambda.url-handler-error": lambda_url_handler_error,
    "lambda.url-unknown-id": lambda_url_unknown_id,
    "apigw.http-api-without-permission": apigw_http_api_without_permission,
    "ec2.missing-subnet": ec2_missing_subnet,
    "efs.file-system-size": efs_file_system_size,
    "datasync.efs-location-without-mount-target": datasync_efs_location_without_mount_target,
    "datasync.list-locations": datasync_list_locations,
}
