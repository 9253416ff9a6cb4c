"""Reports which model file the function sees: from its EFS mount, or fetched from S3 at cold start."""

import hashlib
import os
from urllib.parse import urlparse

_fetched = False


def _model_path():
    """The model file; fetched from S3 once per process when the stack says so (no EFS)."""
    global _fetched
    model_dir = os.environ.get("MODEL_DIR", "/mnt/shared-storage")
    path = os.path.join(model_dir, "model.pt")
    source = os.environ.get("MODEL_S3_URI")
    if source and not _fetched:
        import boto3

        url = urlparse(source)
        os.makedirs(model_dir, exist_ok=True)
        boto3.client("s3").download_file(url.netloc, url.path.lstrip("/"), path)
        _fetched = True
    return path


def predict(event, context):
    if "import" in event:  # where a module comes from: the package, PYTHONPATH on EFS, the runtime
        import importlib

        return {"file": importlib.import_module(event["import"]).__file__}
    path = _model_path()
    with open(path, "rb") as handle:
        digest = hashlib.sha256(handle.read()).hexdigest()
    return {"path": path, "sha256": digest, "from_s3": bool(os.environ.get("MODEL_S3_URI"))}
