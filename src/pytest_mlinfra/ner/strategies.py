"""Hypothesis strategies for what a named-entity predictor meets in the wild.

Names in sentence templates, unicode (accents, CJK, emoji, right-to-left), empty and whitespace-only
text, documents near the size limit, odd capitalisation, and malformed events.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

FAMOUS_NAMES = (
    "Tom Cruise", "Serena Williams", "Barack Obama", "Taylor Swift", "Lionel Messi", "Meryl Streep",
    "Albert Einstein", "Oprah Winfrey", "Beyoncé", "Elon Musk", "Rafael Nadal", "Angela Merkel",
    "Leonardo DiCaprio", "Marie Curie", "Cristiano Ronaldo", "Lady Gaga", "Usain Bolt", "Adele",
    "Shah Rukh Khan", "Penélope Cruz", "Keanu Reeves", "Emma Watson", "Roger Federer", "Rihanna",
)  # fmt: skip
NEUTRAL_TEMPLATES = (
    "{name} is overrated",
    "I think {name} is overrated.",
    "Yesterday I saw {name} at the airport.",
    "Have you read the interview with {name}?",
    "Everyone keeps talking about {name} these days.",
    "My sister met {name} once, years ago.",
    "Is {name} coming to the event tonight?",
    "The documentary about {name} was long but good.",
    "Nobody expected {name} to say that.",
    "We watched a film with {name} last night.",
)
# Right-to-left, combining marks, CJK, emoji (incl. ZWJ sequences and astral plane code points).
EXOTIC = "àéîõüñçøÅßŁğşžĐ漢字かなカナ한국어مرحباשלום🙂👩‍🔬🚀\u0301\u200d"


@dataclass(frozen=True)
class NamedSentence:
    """A template with a name inserted; ``start``/``end`` are where the name sits in ``text``."""

    text: str
    name: str
    start: int
    end: int


@st.composite
def named_sentences(
    draw: st.DrawFn, names: Sequence[str] = FAMOUS_NAMES, templates: Sequence[str] = NEUTRAL_TEMPLATES
) -> NamedSentence:
    name = draw(st.sampled_from(names))
    template = draw(st.sampled_from(templates))
    before, after = template.split("{name}")
    return NamedSentence(before + name + after, name, len(before), len(before) + len(name))


def odd_capitalisation(text_strategy: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """The same texts in lower, UPPER, Title and rAnDoM case."""

    def recase(text: str, mode: str, flips: list[bool]) -> str:
        if mode == "random":
            return "".join(
                c.upper() if i < len(flips) and flips[i] else c.lower() for i, c in enumerate(text)
            )
        return str(getattr(text, mode)())

    return st.builds(
        recase, text_strategy, st.sampled_from(["lower", "upper", "title", "random"]), st.lists(st.booleans())
    )


def unicode_texts(max_size: int = 200) -> st.SearchStrategy[str]:
    """Arbitrary text plus a strong dose of scripts and symbols that break naive offset handling."""
    return st.one_of(
        st.text(max_size=max_size),
        st.text(alphabet=st.sampled_from(EXOTIC + " .,'"), max_size=max_size),
        st.builds(
            lambda a, s, b: a + s.text + b, st.text(EXOTIC, max_size=8), named_sentences(), st.text(EXOTIC)
        ),
    )


def blank_texts() -> st.SearchStrategy[str]:
    return st.text(alphabet=" \t\n\r\u00a0\u2003\u3000", max_size=50)


def near_limit_texts(max_chars: int, slack: int = 64) -> st.SearchStrategy[str]:
    """Documents within ``slack`` characters below the documented size limit (names included)."""

    @st.composite
    def build(draw: st.DrawFn) -> str:
        target = draw(st.integers(max(0, max_chars - slack), max_chars))
        sentence = draw(named_sentences()).text + " "
        text = (sentence * (target // len(sentence) + 1))[:target]
        return text

    return build()


def malformed_events(max_chars: int, max_batch: int) -> st.SearchStrategy[Any]:
    """Events a predictor must answer with a structured error rather than a crash."""
    # Only values JSON can carry: Lambda's front end refuses NaN/Infinity (400 InvalidRequestContent)
    # before any handler runs, so they are not events a predictor ever sees.
    finite = st.floats(allow_nan=False, allow_infinity=False)
    not_a_string = st.one_of(st.none(), st.integers(), finite, st.lists(st.integers()))
    return st.one_of(
        st.just({}),
        st.builds(lambda v: {"text": v}, not_a_string),
        st.builds(lambda v: {"texts": v}, st.one_of(st.none(), st.integers(), st.text(max_size=5))),
        st.builds(lambda v: {"texts": [v]}, not_a_string),
        st.just({"text": "x" * (max_chars + 1)}),
        st.just({"texts": ["a"] * (max_batch + 1)}),
        st.builds(
            lambda k: {k: "hello"},
            st.text(min_size=1, max_size=8).filter(lambda k: k not in ("text", "texts")),
        ),
        st.just({"body": "{not json", "httpMethod": "POST"}),
        st.one_of(st.just([]), st.just("text"), st.integers()),
    )


def any_text(max_chars: int) -> st.SearchStrategy[str]:
    """Every kind of text above, near-limit documents for a model taking ``max_chars`` included."""
    sentences = named_sentences().map(lambda s: s.text)
    return st.one_of(sentences, odd_capitalisation(sentences), unicode_texts(), near_limit_texts(max_chars))
