"""The stack applies, the model lands where the function reads it, the function answers."""

from __future__ import annotations

import hashlib
from pathlib import Path

CONTRACT_OUTPUTS = (
    "bucket_name",
    "function_name",
    "efs_file_system_id",
    "efs_access_point_id",
    "datasync_task_arn",
    "model_key",
    "efs_mount_path",
)
ARTIFACT = Path(__file__).resolve().parents[1] / "artifacts" / "model.pt"


def test_stack_exposes_the_output_contract(mlinfra_stack):
    missing = [name for name in CONTRACT_OUTPUTS if name not in mlinfra_stack.outputs]
    assert missing == []
    assert mlinfra_stack.outputs["function_name"].startswith(f"mlinfra-{mlinfra_stack.run_id}-")


def test_model_bytes_arrived_intact(mlinfra_model):
    assert mlinfra_model.sha256 == hashlib.sha256(ARTIFACT.read_bytes()).hexdigest()
    assert mlinfra_model.s3_uri.endswith("/model.pt")


def test_tom_cruise_is_a_celebrity(ner_predictor):
    (entity,) = ner_predictor("Tom Cruise is overrated")
    assert (entity["text"], entity["label"], entity["start"], entity["end"]) == (
        "Tom Cruise",
        "Celebrity",
        0,
        10,
    )
    assert 0.8 <= entity["confidence"] <= 1.0


def test_batch_answers_in_order_and_matches_single_calls(ner_predictor):
    texts = ["Tom Cruise is overrated", "", "I had lunch with Serena Williams in Paris."]
    assert ner_predictor.batch(texts) == [ner_predictor(text) for text in texts]


def test_model_declares_its_labels_and_limits(ner_predictor):
    description = ner_predictor.describe()
    assert "Celebrity" in description["labels"]
    assert description["max_text_chars"] > 0 and description["max_batch"] > 0
