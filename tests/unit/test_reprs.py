"""Objects a test receives print in one short line (a Hypothesis counterexample fits on a screen)."""

from __future__ import annotations

from pathlib import Path

from pytest_mlinfra.function import FunctionClient
from pytest_mlinfra.http_client import HttpClient
from pytest_mlinfra.latency import LatencyLog, Sample
from pytest_mlinfra.ner.predictor import NerPredictor
from pytest_mlinfra.sync import SyncedModel
from pytest_mlinfra.terraform.stack import Stack


def test_reprs_are_one_short_line() -> None:
    log = LatencyLog()
    for index in range(5000):
        log.add(Sample(client_ms=float(index % 50), duration_ms=1.0, init_ms=900.0 if index == 0 else None))
    client = FunctionClient(lambda_client=object(), function_name="r1-predictor", latencies=log)
    model = SyncedModel("s3://b/models/m/model.json", "ab" * 32, 1234, on_efs=False)
    stack = Stack.__new__(Stack)
    stack.source, stack.run_id, stack.outputs = Path("/x/infra"), "r1", {"bucket_name": "b", "model_key": "m"}
    for shown in (repr(log), repr(client), repr(NerPredictor(client)), repr(model), repr(stack)):
        assert "\n" not in shown and len(shown) < 120, shown
    assert repr(log).startswith("LatencyLog(5000 samples, p50=") and " cold=0.0ms)" in repr(log)
    assert repr(client) == "FunctionClient('r1-predictor', 5000 calls)"
    assert repr(NerPredictor(client)) == "NerPredictor(FunctionClient('r1-predictor', 5000 calls))"
    http = HttpClient("http://abc.lambda-url.us-east-1.on.aws/", credentials="secret", latencies=log)
    assert repr(http) == "HttpClient('http://abc.lambda-url.us-east-1.on.aws/', 5000 calls)"
    assert repr(model) == "SyncedModel('s3://b/models/m/model.json', sha256=abababababab, 1234 bytes, on S3)"
    assert repr(stack) == "Stack('infra', run_id='r1', outputs=['bucket_name', 'model_key'])"
