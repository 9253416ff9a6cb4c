"""The stock NER properties through the bundled stack's HTTP API, on the local target, real path:
Terraform applies fixtures_tf with ``--mlinfra-http-api``, DataSync syncs the model into EFS, and
every property call is an HTTP request to the stage's URL (output ``http_url``) from the test
process, through API Gateway's 2.0 event to the handler and back through its response mapping.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from pytest_mlinfra.ner.strategies import FAMOUS_NAMES

pytestmark = pytest.mark.slow

HERE = Path(__file__).parent
PROPERTY_SUITE = HERE.parents[1] / "examples" / "ner" / "tests" / "test_properties.py"

# The toy predictor behind an HTTP front end: the request is the JSON body of the 2.0 event, the
# answer goes back as a proxy response (400 for the contract's structured errors).
HTTP_WRAPPER = """

_plain_predict = predict


def predict(event, context):
    if isinstance(event, dict) and "requestContext" in event:
        import base64

        body = event.get("body") or ""
        if event.get("isBase64Encoded"):
            body = base64.b64decode(body).decode()
        try:
            answer = _plain_predict(json.loads(body), context)
        except ValueError as exc:
            answer = _error("InvalidJSON", str(exc))
        status = 400 if "error" in answer else 200
        headers = {"Content-Type": "application/json"}
        return {"statusCode": status, "headers": headers, "body": json.dumps(answer)}
    return _plain_predict(event, context)
"""

USER_TEST = """
def test_the_predictor_is_called_over_http(ner_predictor, mlinfra_http):
    assert ner_predictor.function is mlinfra_http
    assert mlinfra_http.url.endswith("/predict") and ".execute-api." in mlinfra_http.url
    response = mlinfra_http.post_json({"text": "Tom Cruise"})
    assert response.status == 200
    assert [e["text"] for e in response.json()["entities"]] == ["Tom Cruise"]
    bad = mlinfra_http.request("POST", "", b"{", {"Content-Type": "application/json"})
    assert bad.status == 400 and bad.json()["error"]["type"] == "InvalidJSON"
"""


def test_stock_properties_pass_through_the_http_api(pytester: pytest.Pytester) -> None:
    handler = pytester.mkdir("handler")
    (handler / "model.py").write_text((HERE / "toy_handler.py").read_text() + HTTP_WRAPPER)
    (handler / "model.pt").write_text(json.dumps({"names": list(FAMOUS_NAMES)}))
    tests = pytester.mkdir("tests")
    shutil.copy(PROPERTY_SUITE, tests / PROPERTY_SUITE.name)
    (tests / "test_http.py").write_text(USER_TEST)
    pytester.makeini(
        "[pytest]\n"
        "testpaths = tests\n"
        "mlinfra_handler_dir = handler\n"
        "mlinfra_model = handler/model.pt\n"
        "mlinfra_package_include = model.py\n"
        "mlinfra_latency_budget = cold=30000\n"
        "mlinfra_properties = ner\n"
        "mlinfra_http_api = true\n"
    )
    result = pytester.runpytest_inprocess("--mlinfra-examples=8", "-p", "no:cacheprovider", "-rA")
    result.assert_outcomes(passed=12)
    result.stdout.fnmatch_lines(["*predictor latency (client wall time): *"])
