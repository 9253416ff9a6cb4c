"""Hypothesis strategies and property checks for a deployed named-entity predictor.

Strategies generate what a predictor meets in the wild: names in sentence templates, unicode
(accents, CJK, emoji, right-to-left), empty and whitespace-only text, documents near the size
limit, odd capitalisation, and malformed events. Checks are plain functions returning the list of
violated properties, so a failing example says exactly which property broke.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from pytest_mlinfra.settings import PROFILE_EXAMPLES

if TYPE_CHECKING:
    from pytest_mlinfra.settings import Settings

PROFILE = "mlinfra"

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


def register_profile(run_settings: Settings) -> None:
    """Register the ``mlinfra`` Hypothesis profile from ``--mlinfra-examples`` / ``--mlinfra-profile``."""
    examples = run_settings.examples or PROFILE_EXAMPLES[run_settings.profile]
    settings.register_profile(PROFILE, max_examples=examples)


def remote_settings(**overrides: Any) -> settings:
    """Settings for a remote target: no deadline (network jitter is not a bug), count from the profile.

    The plugin registers the ``mlinfra`` profile from ``--mlinfra-examples`` / ``--mlinfra-profile``;
    without the plugin the quick profile's count is used. Shrinking and the example database stay on.
    """
    try:
        parent = settings.get_profile(PROFILE)
    except Exception:  # not registered: used without the plugin
        parent = settings(max_examples=PROFILE_EXAMPLES["quick"])
    base = {
        "deadline": None,
        "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
    }
    return settings(parent, **{**base, **overrides})


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
    not_a_string = st.one_of(st.none(), st.integers(), st.floats(allow_nan=False), st.lists(st.integers()))
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


def _ordered(entities: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    def position(value: Any) -> int:
        return value if isinstance(value, int) else -1

    return sorted(entities, key=lambda e: (position(e.get("start")), position(e.get("end"))))


def label_violations(entities: Iterable[dict[str, Any]], labels: Iterable[str]) -> list[str]:
    """Labels outside the model's declared label set."""
    allowed = sorted(set(labels))
    return [
        f"label {e.get('label')!r} not in the declared set {allowed}"
        for e in entities
        if e.get("label") not in allowed
    ]


def confidence_violations(entities: Iterable[dict[str, Any]]) -> list[str]:
    """Confidences that are not numbers in [0, 1]."""
    problems = []
    for e in entities:
        confidence = e.get("confidence")
        if (
            isinstance(confidence, bool)
            or not isinstance(confidence, int | float)
            or not 0 <= confidence <= 1
        ):
            problems.append(f"confidence {confidence!r} of {e.get('text')!r} outside [0, 1]")
    return problems


def span_violations(text: str, entities: Iterable[dict[str, Any]]) -> list[str]:
    """Spans outside the text, or whose ``text`` is not ``input[start:end]``."""
    problems = []
    for e in entities:
        start, end = e.get("start"), e.get("end")
        if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(text)):
            problems.append(f"span {start!r}:{end!r} is not inside the text (length {len(text)})")
        elif text[start:end] != e.get("text"):
            problems.append(f"text {e.get('text')!r} != input[{start}:{end}] = {text[start:end]!r}")
    return problems


def overlap_violations(entities: Iterable[dict[str, Any]]) -> list[str]:
    """Entities whose spans overlap (the contract promises disjoint spans)."""
    problems = []
    previous_end = None
    for e in _ordered(entities):
        start, end = e.get("start"), e.get("end")
        if not (isinstance(start, int) and isinstance(end, int)):
            continue
        if previous_end is not None and start < previous_end:
            problems.append(f"span {start}:{end} overlaps the previous entity (ends at {previous_end})")
        previous_end = end if previous_end is None else max(previous_end, end)
    return problems


def entity_violations(text: str, entities: Iterable[dict[str, Any]], labels: Iterable[str]) -> list[str]:
    """Every property of the response contract that ``entities`` breaks for input ``text``."""
    found = list(entities)
    return (
        label_violations(found, labels)
        + confidence_violations(found)
        + span_violations(text, found)
        + overlap_violations(found)
    )


def is_structured_error(payload: Any) -> bool:
    """``{"error": {"type": str, "message": str}}`` and nothing that looks like a traceback."""
    if not isinstance(payload, dict) or not isinstance(payload.get("error"), dict):
        return False
    error = payload["error"]
    return (
        isinstance(error.get("type"), str)
        and isinstance(error.get("message"), str)
        and "Traceback" not in error["message"]
    )


@dataclass
class RecallTracker:
    """Names found / names inserted over a whole run (a rate, not a per-example property)."""

    found: int = 0
    total: int = 0
    misses: list[str] = field(default_factory=list)

    def record(self, sample: NamedSentence, entities: Iterable[dict[str, Any]]) -> None:
        self.total += 1
        if any(str(e.get("text", "")).casefold() == sample.name.casefold() for e in entities):
            self.found += 1
        elif len(self.misses) < 5:
            self.misses.append(sample.text)

    @property
    def recall(self) -> float:
        return self.found / self.total if self.total else 1.0
