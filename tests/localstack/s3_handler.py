"""The toy predictor (tests/flow/toy_handler.py), able to fetch its model from S3 at cold start.

Without EFS (LocalStack Community) the stack gives the function ``MODEL_S3_URI`` and
``MODEL_DIR=/tmp/model``: the model is downloaded once per process, to a fresh file that replaces
any old one atomically (``/tmp`` outlives a worker here), then read as on EFS.
"""

import os
import tempfile

import toy_handler

_fetched = False


def _fetch_model():
    global _fetched
    uri = os.environ.get("MODEL_S3_URI")
    if _fetched or not uri:
        return
    import boto3

    bucket, key = uri[len("s3://") :].split("/", 1)
    model_dir = os.environ.get("MODEL_DIR", "/tmp/model")
    os.makedirs(model_dir, exist_ok=True)
    handle, partial = tempfile.mkstemp(dir=model_dir, prefix=".model-")
    os.close(handle)
    boto3.client("s3").download_file(bucket, key, partial)
    os.replace(partial, os.path.join(model_dir, "model.pt"))
    _fetched = True


def predict(event, context):
    _fetch_model()
    return toy_handler.predict(event, context)
