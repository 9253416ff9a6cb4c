"""A small, deterministic stand-in for the example predictor, with switchable bugs.

It finds the names of a gazetteer (read from $MODEL_DIR/model.pt, so the EFS mount and the model
sync are exercised for real) and follows the event/response contract. ``BUG`` breaks exactly one
property; the acceptance tests check that exactly the matching test fails.
"""

import json
import os
import time

BUG = "none"  # none | label | confidence | offsets | slow
LABELS = ["Celebrity", "Person"]
MAX_TEXT_CHARS = 2000
MAX_BATCH = 16
_names = None


def _gazetteer():
    global _names
    if _names is None:
        path = os.path.join(os.environ.get("MODEL_DIR", "/mnt/shared-storage"), "model.pt")
        with open(path, encoding="utf-8") as handle:
            _names = json.load(handle)["names"]
    return _names


def _find(text):
    folded = text.casefold()
    if len(folded) != len(text):  # casefold changed offsets (e.g. "ß"): search the original only
        folded = text
    entities, taken = [], set()
    for name in sorted(_gazetteer(), key=len, reverse=True):
        start = folded.find(name.casefold())
        while start != -1:
            end = start + len(name)
            if not taken.intersection(range(start, end)):
                taken.update(range(start, end))
                entities.append(
                    {
                        "text": text[start:end],
                        "label": "Celebrity",
                        "confidence": 0.95,
                        "start": start,
                        "end": end,
                    }
                )
            start = folded.find(name.casefold(), end)
    entities.sort(key=lambda e: e["start"])
    for e in entities:
        if BUG == "label":
            e["label"] = "Famous"
        elif BUG == "confidence":
            e["confidence"] = 1.3
        elif BUG == "offsets":
            e["start"] += 1
    if BUG == "slow":
        time.sleep(0.3)
    return entities


def _error(kind, message):
    return {"error": {"type": kind, "message": message}}


def _text(value):
    if not isinstance(value, str):
        raise TypeError(f"text must be a string, not {type(value).__name__}")
    if len(value) > MAX_TEXT_CHARS:
        raise ValueError(f"text longer than {MAX_TEXT_CHARS} characters")
    return value


def predict(event, context):
    try:
        if isinstance(event, dict) and event.get("action") == "describe":
            return {"labels": LABELS, "max_text_chars": MAX_TEXT_CHARS, "max_batch": MAX_BATCH}
        if isinstance(event, dict) and "text" in event:
            return {"entities": _find(_text(event["text"]))}
        if isinstance(event, dict) and "texts" in event:
            texts = event["texts"]
            if not isinstance(texts, list) or len(texts) > MAX_BATCH:
                raise ValueError(f"texts must be a list of at most {MAX_BATCH} strings")
            return {"results": [{"entities": _find(_text(t))} for t in texts]}
        return _error("BadRequest", "expected {'text': ...} or {'texts': [...]}")
    except (TypeError, ValueError) as exc:
        return _error("BadRequest", str(exc))
