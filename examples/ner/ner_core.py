"""Inference core of the example NER model: tokenizer, network, decoding and celebrity gazetteer.

It needs only torch and the standard library, so the Lambda zip stays small. train.py and evaluate.py
import the same code, so training and serving cannot drift apart.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import torch
from torch import nn

LABELS = ("Celebrity", "Person")
TAGS = ("O", "B", "I")
N_FEATS = 13
MAX_WORD_CHARS = 20
_NEG = -1e9

# Words: letters/digits with inner apostrophes or hyphens (O'Brien, Jean-Luc); anything else is one char.
_TOKEN = re.compile(r"[^\W_]+(?:['\u2019\-][^\W_]+)*|\S")
_POSSESSIVE = ("'s", "\u2019s", "'S", "\u2019S")
_SENT_END = frozenset('.!?:;"“”()[]')


@dataclass(frozen=True)
class Token:
    """A word with its Python str offsets in the original text."""

    text: str
    start: int
    end: int


def tokenize(text: str) -> list[Token]:
    """Split into words, splitting a possessive 's off so that it stays outside a name span."""
    out: list[Token] = []
    for m in _TOKEN.finditer(text):
        word, start, end = m.group(), m.start(), m.end()
        if len(word) > 2 and word.endswith(_POSSESSIVE):
            out.append(Token(word[:-2], start, end - 2))
            out.append(Token(word[-2:], end - 2, end))
        else:
            out.append(Token(word, start, end))
    return out


def strip_accents(text: str) -> str:
    """Fold accents the way the uncased MiniLM tokenizer does (NFD, drop combining marks)."""
    return "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")


def normalize_name(text: str) -> str:
    """Key for gazetteer look-ups: case, accents, dots, possessive and spacing do not matter."""
    key = strip_accents(text).casefold().replace("\u2019", "'").replace(".", " ")
    key = " ".join(key.split())
    return key[:-2].rstrip() if key.endswith("'s") else key


class WordPiece:
    """Greedy longest-match WordPiece over the MiniLM vocabulary (what BertTokenizer does per word)."""

    def __init__(self, vocab: Sequence[str]) -> None:
        self.index = {piece: i for i, piece in enumerate(vocab)}
        self.unk = self.index["[UNK]"]
        self.pieces = lru_cache(maxsize=200_000)(self._pieces)

    def _pieces(self, word: str) -> tuple[int, ...]:
        ids: list[int] = []
        for part in re.findall(r"[^\W_]+|[^\w\s]|_", strip_accents(word).lower()):
            ids.extend(self._split(part))
        return tuple(ids) or (self.unk,)

    def _split(self, part: str) -> list[int]:
        if len(part) > 40:
            return [self.unk]
        ids: list[int] = []
        start = 0
        while start < len(part):
            end = len(part)
            while end > start:
                piece = part[start:end] if start == 0 else "##" + part[start:end]
                if piece in self.index:
                    ids.append(self.index[piece])
                    break
                end -= 1
            else:
                return [self.unk]
            start = end
        return ids


def word_shape(word: str, n_pieces: int) -> tuple[float, ...]:
    """Per-word casing/shape features (cached per word by the Encoder)."""
    alpha = any(c.isalpha() for c in word)
    return (
        float(alpha and word[0].isupper() and not (len(word) > 1 and word.isupper())),
        float(alpha and len(word) > 1 and word.isupper()),
        float(alpha and word.islower()),
        float(any(c.isdigit() for c in word)),
        float(not any(c.isalnum() for c in word)),
        float(n_pieces == 1),
        float(n_pieces >= 3),
        float(word in _POSSESSIVE),
        float(any(ord(c) > 127 for c in word)),
        float(alpha and len(word) <= 2),
    )


def doc_casing(text: str) -> tuple[float, float]:
    """(all lowercase, ALL CAPS) flags: they let one model read "tom cruise" and "TOM CRUISE" too."""
    n_alpha = n_upper = 0
    for c in text:
        if c.isalpha():
            n_alpha += 1
            n_upper += c.isupper()
    return float(n_alpha > 0 and n_upper == 0), float(n_alpha > 3 and n_upper > 0.8 * n_alpha)


class Tagger(nn.Module):
    """Char-CNN + frozen MiniLM word vectors + casing features -> BiLSTM -> B/I/O per token."""

    def __init__(self, n_pieces: int, word_dim: int, n_chars: int, hidden: int = 128) -> None:
        super().__init__()
        self.word = nn.EmbeddingBag(n_pieces, word_dim, mode="mean")
        self.word.weight.requires_grad_(False)
        self.char = nn.Embedding(n_chars, 32, padding_idx=0)
        self.conv = nn.Conv1d(32, 96, kernel_size=3, padding=1)
        self.proj = nn.Linear(word_dim + 96 + N_FEATS, 2 * hidden)
        self.lstm = nn.LSTM(2 * hidden, hidden, num_layers=2, bidirectional=True, batch_first=True)
        self.out = nn.Linear(2 * hidden, len(TAGS))
        self.drop = nn.Dropout(0.25)

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Return log-probabilities [docs, max_tokens, tags] for a batch from `Encoder.encode`."""
        words = self.word(batch["pieces"], batch["piece_offsets"])
        chars = self.char(batch["chars"]).transpose(1, 2)
        chars = torch.relu(self.conv(chars)).max(dim=2).values
        x = torch.cat([words, chars, batch["feats"]], dim=1)
        x = self.drop(torch.relu(self.proj(self.drop(x))))
        lengths = batch["lengths"]
        padded = x.new_zeros(len(lengths), int(lengths.max()), x.shape[1])
        padded[batch["doc_index"], batch["pos_index"]] = x
        packed = nn.utils.rnn.pack_padded_sequence(padded, lengths, batch_first=True, enforce_sorted=False)
        h, _ = self.lstm(packed)
        h, _ = nn.utils.rnn.pad_packed_sequence(h, batch_first=True)
        return torch.log_softmax(self.out(self.drop(h)), dim=-1)


class Encoder:
    """Turns texts into the tensors `Tagger.forward` takes (tokens, word pieces, chars, features)."""

    def __init__(self, vocab: Sequence[str], chars: str) -> None:
        self.wordpiece = WordPiece(vocab)
        self.char_index = {c: i + 2 for i, c in enumerate(chars)}  # 0 = padding, 1 = unknown
        self.word_info = lru_cache(maxsize=200_000)(self._word_info)

    def _word_info(self, word: str) -> tuple[tuple[int, ...], list[int], tuple[float, ...]]:
        """(word-piece ids, char ids, shape features) of one word; words repeat, so this is cached.

        Char ids have a fixed width: the CNN's max-pool then sees the same padding whatever else is
        in the batch, so a text gets the same answer alone or in a batch.
        """
        ids = self.wordpiece.pieces(word)
        chars = [self.char_index.get(c, 1) for c in word[:MAX_WORD_CHARS]]
        chars += [0] * (MAX_WORD_CHARS + 1 - len(chars))
        return ids, chars, word_shape(word, len(ids))

    def encode(self, tokenized: Sequence[tuple[str, list[Token]]]) -> dict[str, torch.Tensor]:
        """Encode (text, tokens) pairs; every document must have at least one token."""
        pieces: list[int] = []
        offsets: list[int] = []
        chars: list[list[int]] = []
        feats: list[tuple[float, ...]] = []
        doc_index: list[int] = []
        pos_index: list[int] = []
        lengths: list[int] = []
        for d, (text, tokens) in enumerate(tokenized):
            casing = doc_casing(text)
            prev = ""
            for tok in tokens:
                ids, char_ids, shape = self.word_info(tok.text)
                offsets.append(len(pieces))
                pieces.extend(ids)
                chars.append(char_ids)
                start = (float(prev == "" or prev in _SENT_END),)
                feats.append(shape[:5] + start + casing + shape[5:])
                prev = tok.text
            doc_index.extend([d] * len(tokens))
            pos_index.extend(range(len(tokens)))
            lengths.append(len(tokens))
        return {
            "pieces": torch.tensor(pieces, dtype=torch.long),
            "piece_offsets": torch.tensor(offsets, dtype=torch.long),
            "chars": torch.tensor(chars, dtype=torch.long),
            "feats": torch.tensor(feats, dtype=torch.float32),
            "doc_index": torch.tensor(doc_index, dtype=torch.long),
            "pos_index": torch.tensor(pos_index, dtype=torch.long),
            "lengths": torch.tensor(lengths, dtype=torch.long),
        }


def viterbi(logp: list[list[float]]) -> list[int]:
    """Best B/I/O path where I only follows B or I (so spans are always well formed)."""
    score = [logp[0][0], logp[0][1], _NEG]
    back: list[list[int]] = []
    for row in logp[1:]:
        o_prev = 0 if score[0] >= max(score[1], score[2]) else (1 if score[1] >= score[2] else 2)
        best_any = score[o_prev]
        i_prev = 1 if score[1] >= score[2] else 2
        back.append([o_prev, o_prev, i_prev])
        score = [best_any + row[0], best_any + row[1], score[i_prev] + row[2]]
    state = max(range(3), key=lambda s: score[s])
    path = [state]
    for ptrs in reversed(back):
        state = ptrs[state]
        path.append(state)
    return path[::-1]


def can_be_name(tokens: Sequence[Token]) -> list[bool]:
    """Tokens a name may contain: words with a letter, and the dot after an initial (J. K. Rowling, Jr.)."""
    allowed = []
    for i, tok in enumerate(tokens):
        word = tok.text
        if word == ".":
            prev = tokens[i - 1].text if i else ""
            allowed.append(0 < len(prev) <= 3 and prev.isalpha() and tokens[i - 1].end == tok.start)
        else:
            allowed.append(word not in _POSSESSIVE and any(c.isalpha() for c in word))
    return allowed


def spans(logp: list[list[float]], allowed: Sequence[bool]) -> list[tuple[int, int, float]]:
    """Token spans (first, last, raw confidence) from the decoded path.

    The raw confidence is the probability of the span's tags times the probability that the
    next token does not continue it: a cheap estimate of "this exact span is a name".
    """
    logp = [row if ok else [row[0], _NEG, _NEG] for row, ok in zip(logp, allowed, strict=True)]
    path = viterbi(logp)
    found = []
    i = 0
    while i < len(path):
        if path[i] != 1:
            i += 1
            continue
        j = i
        while j + 1 < len(path) and path[j + 1] == 2:
            j += 1
        log_conf = logp[i][1] + sum(logp[k][2] for k in range(i + 1, j + 1))
        if j + 1 < len(path):
            log_conf += math.log1p(-min(math.exp(logp[j + 1][2]), 1 - 1e-9))
        found.append((i, j, math.exp(log_conf)))
        i = j + 1
    return found


class NerModel:
    """The loaded model: text in, entities (dicts matching the handler contract) out."""

    def __init__(self, bundle: dict[str, Any]) -> None:
        cfg = bundle["config"]
        self.labels: tuple[str, ...] = tuple(bundle["labels"])
        self.encoder = Encoder(bundle["vocab"], bundle["chars"])
        self.tagger = Tagger(len(bundle["vocab"]), cfg["word_dim"], len(bundle["chars"]) + 2, cfg["hidden"])
        state = {k: v.float() for k, v in bundle["state_dict"].items()}
        self.tagger.load_state_dict(state)
        self.tagger.eval()
        self.celebrities = frozenset(bundle["celebrities"])
        self.calib_a, self.calib_b = bundle["calibration"]

    def calibrate(self, raw: float) -> float:
        """Platt scaling fitted on held-out synthetic data (see train.py)."""
        raw = min(max(raw, 1e-6), 1 - 1e-6)
        z = self.calib_a * math.log(raw / (1 - raw)) + self.calib_b
        return 1 / (1 + math.exp(-z)) if z > -700 else 0.0

    def label_for(self, name: str) -> str:
        """A person span is a Celebrity when the gazetteer knows the name, else a Person."""
        return "Celebrity" if normalize_name(name) in self.celebrities else "Person"

    def predict_batch(self, texts: Sequence[str], batch_size: int = 64) -> list[list[dict[str, Any]]]:
        """Entities per text, in order; sorted, non-overlapping, offsets in Python str indices."""
        tokenized = [(t, tokenize(t)) for t in texts]
        results: list[list[dict[str, Any]]] = [[] for _ in texts]
        todo = [i for i, (_, toks) in enumerate(tokenized) if toks]
        todo.sort(key=lambda i: len(tokenized[i][1]))
        with torch.inference_mode():
            for k in range(0, len(todo), batch_size):
                chunk = todo[k : k + batch_size]
                logp = self.tagger(self.encoder.encode([tokenized[i] for i in chunk])).tolist()
                for row, i in zip(logp, chunk, strict=True):
                    text, toks = tokenized[i]
                    results[i] = self._entities(text, toks, row[: len(toks)])
        return results

    def _entities(self, text: str, toks: list[Token], logp: list[list[float]]) -> list[dict[str, Any]]:
        out = []
        for first, last, raw in spans(logp, can_be_name(toks)):
            start, end = toks[first].start, toks[last].end
            name = text[start:end]
            out.append(
                {
                    "text": name,
                    "label": self.label_for(name),
                    "confidence": round(self.calibrate(raw), 4),
                    "start": start,
                    "end": end,
                }
            )
        return out


def load(path: str) -> NerModel:
    """Load model.pt (plain tensors, strings and numbers only, so weights_only loading is safe)."""
    return NerModel(torch.load(path, map_location="cpu", weights_only=True))
