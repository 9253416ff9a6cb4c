"""Synthetic, labelled training data for the example NER model (training/evaluation only).

Sources, all offline: Faker names in many locales, WordNet (famous people with their glosses, places,
organisations and its example sentences), the hand-written templates and celebrity list in data/.
Names and templates are split train/held-out by a stable hash, so evaluation sees neither.
"""

from __future__ import annotations

import hashlib
import os
import random
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ner_core import Token, normalize_name, tokenize

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
WORDNET_HINT = "apt-get install wordnet-base, or set WORDNET_DIR to a WordNet 3.0 dict directory"
# fmt: off
FAKER_LOCALES = [
    "en_US", "en_GB", "en_IE", "en_AU", "en_CA", "en_IN", "en_NZ", "de_DE", "de_AT", "fr_FR", "fr_CA",
    "es_ES", "es_MX", "it_IT", "pt_BR", "pt_PT", "nl_NL", "pl_PL", "sv_SE", "da_DK", "no_NO", "fi_FI",
    "cs_CZ", "hu_HU", "tr_TR", "ro_RO", "hr_HR", "sk_SK", "sl_SI", "lt_LT", "lv_LV", "et_EE", "id_ID",
    "fil_PH", "vi_VN", "ga_IE",
]
ROMANIZED_LOCALES = ("zh_CN", "zh_TW", "ja_JP")  # Latin-script Chinese and Japanese names
TITLES = [
    "Dr.", "Mr.", "Mrs.", "Ms.", "Mr", "Ms", "Prof.", "Sir", "Dame", "President", "Senator", "Coach",
    "Judge", "Captain", "Uncle", "Aunt",
]
# Places and organisations that look like names: the model must learn to read the context.
CONFUSABLE_PLACES = [
    "Florence", "Jordan", "Chelsea", "Washington", "Lincoln", "Victoria", "Georgia", "Charlotte", "Austin",
    "Orlando", "Sydney", "Eugene", "Adelaide", "Houston", "Paris", "Madison", "Jackson", "Elizabeth",
    "Alexandria", "Santiago", "Darwin", "Hamilton", "Wellington", "Regina", "Savannah", "Phoenix", "Denver",
    "Dallas", "Raleigh", "Augusta", "Marseille", "Lourdes", "Kenya", "Manchester", "Birmingham",
    "Nottingham", "Brighton", "Aberdeen", "Cork", "Galway", "Lyon", "Toulouse", "Munich", "Hamburg",
    "Milan", "Turin", "Naples", "Seville", "Valencia", "Porto", "Kyoto", "Osaka", "Seoul", "Shanghai",
    "Mumbai", "Lagos", "Nairobi", "Cairo", "Dubai", "Doha", "Lima", "Quito", "Bogota", "Havana",
    "Vancouver",
]
CONFUSABLE_ORGS = [
    "Ford", "McDonald's", "Tesla", "Disney", "Goldman Sachs", "Johnson & Johnson", "Ferrari", "Dell",
    "Boeing", "Morgan Stanley", "Wells Fargo", "Chanel", "Gucci", "Prada", "Louis Vuitton", "Mercedes-Benz",
    "Porsche", "Kellogg's", "Nestlé", "Philips", "Siemens", "Heineken", "Marriott", "Hilton",
    "Ben & Jerry's", "Harley-Davidson", "Manchester United", "Real Madrid", "Arsenal", "Chelsea",
    "Liverpool", "Barcelona", "Juventus", "Bayern Munich", "the Lakers", "the Yankees", "Google", "Apple",
    "Microsoft", "Amazon", "Netflix", "Spotify", "the BBC", "the United Nations", "NASA", "the FBI",
    "Harvard", "Oxford University", "Stanford", "Toyota", "Samsung", "IKEA", "Lloyds", "Barclays",
    "Sainsbury's", "Walmart", "Adidas", "Nike", "Nvidia", "Intel", "IBM", "Oracle", "Uber", "Airbnb",
    "TikTok", "Alibaba", "Tencent", "Sony", "Nintendo", "Honda", "BMW", "Volkswagen", "Shell", "BP",
    "Pfizer", "Unilever", "Coca-Cola", "Pepsi", "Starbucks", "Reuters", "Bloomberg", "the Guardian", "CNN",
    "Fox News", "Juventus", "Ajax", "Celtic", "Rangers", "Boca Juniors", "Inter Milan", "AC Milan",
    "Paris Saint-Germain", "the Red Cross", "UNICEF", "Greenpeace", "Deutsche Bank", "HSBC", "JPMorgan",
    "Citigroup", "Santander", "Zara", "H&M", "Primark", "Tesco", "Aldi", "Lidl", "Carrefour", "Ryanair",
    "Lufthansa", "Emirates", "Qantas", "Air France", "Delta", "Boots", "Anthropic", "DeepMind", "SpaceX",
    "Ubisoft", "Pixar", "Warner Bros", "Universal", "Paramount", "Hulu",
]
OTHER_THINGS = [
    "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday", "Christmas", "Easter",
    "New Year's Eve", "the Olympics", "the World Cup", "the Super Bowl", "the Grammys", "the Oscars",
    "Wimbledon", "the Tour de France", "Ramadan", "Diwali", "Thanksgiving", "Halloween", "the US Open",
    "the Champions League", "January", "March", "April", "June", "August", "October", "December",
    "the iPhone launch", "Black Friday", "Labor Day", "the Met Gala", "Comic-Con", "the Euros",
]

# WordNet has no function words; sentence-initial ones must not look like names to the weak labeller.
FUNCTION_WORDS = frozenset({
    "a", "about", "above", "across", "after", "against", "all", "along", "also", "although", "always",
    "among", "an", "and", "any", "are", "as", "at", "be", "because", "been", "before", "between", "beyond",
    "both", "but", "by", "can", "could", "despite", "did", "do", "does", "don't", "during", "each",
    "either", "even", "every", "few", "for", "from", "had", "has", "have", "he", "her", "here", "his",
    "how", "however", "i", "if", "in", "into", "is", "it", "its", "just", "later", "let", "let's", "many",
    "may", "might", "more", "most", "much", "must", "my", "neither", "never", "no", "nor", "not", "now",
    "of", "often", "on", "once", "one", "only", "or", "our", "perhaps", "she", "should", "since", "so",
    "some", "still", "such", "than", "that", "the", "their", "then", "there", "these", "they", "this",
    "those", "through", "to", "today", "tomorrow", "toward", "towards", "two", "under", "unless", "until",
    "upon", "was", "we", "were", "what", "whatever", "when", "where", "whether", "which", "while", "who",
    "whoever", "whom", "whose", "why", "will", "with", "within", "without", "would", "yesterday", "yet",
    "you", "your",
})
# fmt: on

PRONOUNS = frozenset({"he", "she", "him", "his", "her"})


def bucket(key: str) -> int:
    """Stable 0-99 bucket for train/held-out splits (Python's hash() is salted per process)."""
    return int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) % 100


def split_of(key: str) -> str:
    """'dev' (7%, calibration and model selection), 'test' (8%, evaluation only) or 'train'."""
    b = bucket(key)
    return "dev" if b < 7 else "test" if b < 15 else "train"


@dataclass
class WordNet:
    """The parts of WordNet 3.0 the data generator uses."""

    people: list[tuple[list[str], str]] = field(default_factory=list)  # (lemmas, gloss)
    places: list[str] = field(default_factory=list)
    orgs: list[str] = field(default_factory=list)
    examples: list[str] = field(default_factory=list)
    proper_other: set[str] = field(default_factory=set)  # capitalised lemmas of other things
    common_words: set[str] = field(default_factory=set)  # lowercase lemmas


def wordnet_dir() -> Path:
    """Where WordNet lives; exits with one line saying how to get it when it is missing."""
    path = Path(os.environ.get("WORDNET_DIR", "/usr/share/wordnet"))
    if not (path / "data.noun").is_file():
        raise SystemExit(f"WordNet data not found in {path}: {WORDNET_HINT}")
    return path


def load_wordnet() -> WordNet:
    """Parse WordNet's data.* files (format: offset lexfile pos count lemma lexid ... | gloss)."""
    wn = WordNet()
    for pos in ("noun", "verb", "adj", "adv"):
        for line in (wordnet_dir() / f"data.{pos}").read_text(encoding="utf-8").splitlines():
            if line.startswith(" "):
                continue
            head, _, gloss = line.partition(" | ")
            parts = head.split()
            lexfile, count = int(parts[1]), int(parts[3], 16)
            lemmas = [re.sub(r"\(.*\)$", "", w).replace("_", " ") for w in parts[4 : 4 + 2 * count : 2]]
            wn.examples.extend(re.findall(r'"([^"]{12,200})"', gloss))
            definition = gloss.split(";")[0].strip()
            proper = [w for w in lemmas if w[:1].isupper()]
            wn.common_words.update(w for w in lemmas if w.islower())
            if pos == "noun" and lexfile == 18 and proper and "@i" in parts:
                wn.people.append((proper, definition))
            elif pos == "noun" and lexfile == 15 and proper:
                wn.places.extend(proper)
            elif pos == "noun" and lexfile == 14 and proper:
                wn.orgs.extend(proper)
            else:
                wn.proper_other.update(proper)
    wn.common_words.update(FUNCTION_WORDS)
    return wn


def load_celebrities() -> list[list[str]]:
    """The hand-written celebrity list: one person per line, aliases after ' | '."""
    people = []
    for line in (DATA / "celebrities.txt").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            people.append([alias.strip() for alias in line.split("|")])
    return people


def faker_names(seed: int) -> tuple[list[str], list[str]]:
    """First and last names from many Faker locales (Latin script), deduplicated and sorted."""
    from faker import Faker

    firsts: set[str] = set()
    lasts: set[str] = set()
    for locale in FAKER_LOCALES:
        fake = Faker(locale)
        fake.seed_instance(seed)
        for _ in range(400):
            firsts.add(fake.first_name())
            lasts.add(fake.last_name())
    for locale in ROMANIZED_LOCALES:
        fake = Faker(locale)
        fake.seed_instance(seed)
        for _ in range(400):
            firsts.add(fake.first_romanized_name())
            lasts.add(fake.last_romanized_name())
    keep = re.compile(r"^[^\W\d_]+(?:['\u2019\- ][^\W\d_]+)*$")
    return sorted(n for n in firsts if keep.match(n)), sorted(n for n in lasts if keep.match(n))


def gazetteer(wn: WordNet, celebrities: list[list[str]], common_names: Iterable[str]) -> list[str]:
    """Normalised names that make a found person a Celebrity.

    Full names of WordNet's famous people and of the hand list, with a "first last" short form for
    long WordNet names. A single WordNet word (Einstein, Mozart) counts only when it is neither a common
    first/last name nor an English word; the hand list's aliases (Messi, Obama) are curated and kept.
    """
    ordinary = {normalize_name(n) for n in common_names} | {w.casefold() for w in wn.common_words}
    keys: set[str] = {normalize_name(alias) for person in celebrities for alias in person}
    for lemmas, _ in wn.people:
        for lemma in lemmas:
            key = normalize_name(lemma)
            words = key.split()
            if len(words) == 1 and (key in ordinary or len(key) < 4):
                continue
            keys.add(key)
            if len(words) > 2 and "of" not in words:
                keys.add(f"{words[0]} {words[-1]}")
    return sorted(keys)


Span = tuple[int, int]


@dataclass
class Example:
    """A sentence with gold person spans (Python str offsets)."""

    text: str
    spans: list[Span]
    source: str


class Generator:
    """Fills templates with names, places and organisations; also weakly labels WordNet sentences."""

    def __init__(self, wn: WordNet, celebrities: list[list[str]], seed: int, exclude: set[str]) -> None:
        self.rng = random.Random(seed)
        firsts, lasts = faker_names(seed)
        famous = [lem for lem, _ in wn.people] + celebrities
        famous = [[n for n in lem if normalize_name(n) not in exclude] for lem in famous]
        self.split_names = {
            split: {
                "first": [n for n in firsts if split_of("f:" + n) == split],
                "last": [n for n in lasts if split_of("l:" + n) == split],
                "famous": [lem for lem in famous if lem and split_of("p:" + lem[0]) == split],
            }
            for split in ("train", "dev", "test")
        }
        self.places = sorted(set(wn.places)) + CONFUSABLE_PLACES * 20
        self.orgs = sorted(set(wn.orgs)) + CONFUSABLE_ORGS * 10
        self.place_set = set(self.places)
        self.org_set = set(self.orgs)
        self.wn = wn
        self.first_set = set(firsts)
        self.common_names = self.first_set | set(lasts)
        self.person_keys = {normalize_name(n) for lem in famous for n in lem}

    def person(self, split: str) -> str:
        """A person name in one of the shapes real text uses."""
        names = self.split_names[split]
        r = self.rng.random()
        first, last = self.rng.choice(names["first"]), self.rng.choice(names["last"])
        if r < 0.25:
            lemmas = self.rng.choice(names["famous"])
            return self.rng.choice(lemmas)
        if r < 0.65:
            return f"{first} {last}"
        if r < 0.72:
            middle = self.rng.choice(names["first"])
            return f"{first} {middle[0]}. {last}" if self.rng.random() < 0.5 else f"{first} {middle} {last}"
        if r < 0.77:
            return f"{first[0]}. {last}"
        if r < 0.89:
            return last
        return first

    def fill(self, template: str, split: str) -> Example:
        """Render one template; titles stay outside the person span, as in the usual NER convention."""
        text = ""
        spans: list[Span] = []
        pos = 0
        for m in re.finditer(r"\{([PLOWNY])\}", template):
            text += template[pos : m.start()]
            slot = m.group(1)
            if slot == "P":
                if self.rng.random() < 0.08 and not text.rstrip().endswith(tuple(TITLES)):
                    text += self.rng.choice(TITLES) + " "
                name = self.person(split)
                spans.append((len(text), len(text) + len(name)))
                text += name
            elif slot == "L":
                text += self.rng.choice(self.places)
            elif slot == "O":
                text += self.rng.choice(self.orgs)
            elif slot == "W":
                text += self.rng.choice(OTHER_THINGS)
            elif slot == "N":
                text += str(self.rng.randint(2, 99))
            else:
                text += str(self.rng.randint(1900, 2025))
            pos = m.end()
        text += template[pos:]
        return self.casing(Example(text, spans, "template"))

    def casing(self, ex: Example) -> Example:
        """Lowercase, ALL-CAPS or headline case for some sentences (same offsets: same lengths)."""
        r = self.rng.random()
        if r < 0.12:
            text = ex.text.lower()
        elif r < 0.20:
            text = ex.text.upper()
        elif r < 0.24:
            text = re.sub(r"\b([a-z])", lambda m: m.group(1).upper(), ex.text)
        else:
            return ex
        if len(text) != len(ex.text):  # a few characters change length when case-mapped; keep original
            return ex
        return Example(text, ex.spans, ex.source)

    def gloss_sentences(self, split: str) -> list[Example]:
        """'<famous person> was a <WordNet gloss>.' and variants: real vocabulary around real names."""
        out = []
        for lemmas, definition in self.wn.people:
            gloss = re.sub(r"^\([^)]*\)\s*", "", definition)
            kept = [n for n in lemmas if normalize_name(n) in self.person_keys]
            if not kept or split_of("p:" + lemmas[0]) != split:
                continue
            name = self.rng.choice(kept)
            gloss = re.sub(r"^(a|an|the)\s+", "", gloss)
            shape = self.rng.randrange(4)
            if shape == 0:
                before, after = "", f" was a {gloss}."
            elif shape == 1:
                before, after = "", f" ({gloss})"
            elif shape == 2:
                before, after = f"The {gloss} ", " is remembered today."
            else:
                before, after = f"A {gloss}: that was ", "."
            labelled = self.weak_label(before + name + after)
            own = (len(before), len(before) + len(name))
            if labelled is None or any(a < own[1] and own[0] < b for a, b in labelled.spans if (a, b) != own):
                continue
            labelled.spans = sorted(set(labelled.spans) | {own})
            out.append(self.casing(labelled))
        return out

    def weak_label(self, text: str, source: str = "gloss") -> Example | None:
        """Label known person names in natural text; give up on sentences with unexplained capitals."""
        toks = tokenize(text)
        spans: list[Span] = []
        i = 0
        while i < len(toks):
            word = toks[i].text
            sentence_start = i == 0 or toks[i - 1].text in '.!?:;"('
            if not word[:1].isupper():
                i += 1
                continue
            n = self._name_length(toks, i)
            piece = text[toks[i].start : toks[i + n - 1].end] if n else word
            common = word.lower() in self.wn.common_words
            if n == 1 and sentence_start and common:
                n = 0
            if n:
                key = normalize_name(piece)
                other = piece in self.wn.proper_other or piece in self.place_set or piece in self.org_set
                is_person = key in self.person_keys or (
                    n >= 2
                    and word in self.first_set
                    and word not in self.wn.proper_other
                    and toks[i + n - 1].text in self.common_names
                )
                if is_person and (other or (n == 1 and common)):
                    return None  # London, Mars, Bush: a person or something else? skip the sentence
                if is_person:
                    spans.append((toks[i].start, toks[i + n - 1].end))
                if is_person or other:
                    i += n
                    continue
            if not (sentence_start and common) and not word.isupper():
                if word in self.first_set and not common:
                    spans.append((toks[i].start, toks[i].end))
                else:
                    return None
            i += 1
        return Example(text, spans, source)

    @staticmethod
    def _name_length(toks: list[Token], i: int) -> int:
        """Length of the run of capitalised words (and initials' dots) starting at token i, at most 5."""
        n = 0
        while i + n < len(toks) and n < 5:
            word = toks[i + n].text
            if word[:1].isupper() or (word == "." and n and len(toks[i + n - 1].text) == 1):
                n += 1
            else:
                break
        while n and toks[i + n - 1].text == ".":
            n -= 1
        return n

    def wordnet_examples(self, split: str) -> list[Example]:
        """WordNet's own usage examples, weakly labelled: natural sentences, mostly without names."""
        out = []
        for sentence in self.wn.examples:
            if split_of("s:" + sentence) != split:
                continue
            sentence = sentence[0].upper() + sentence[1:]
            labelled = self.weak_label(sentence, "wordnet-example")
            if labelled is not None:
                out.append(self.casing(labelled))
        return out

    def pronoun_sentences(self, split: str) -> list[Example]:
        """WordNet's natural sentences with one he/she/him/his/her replaced by a name (his -> Name's).

        Thousands of real contexts around names, including possessives, that no template list has.
        """
        out = []
        for sentence in self.wn.examples:
            if split_of("s:" + sentence) != split:
                continue
            sentence = sentence[0].upper() + sentence[1:]
            toks = tokenize(sentence)
            targets = [i for i, t in enumerate(toks) if t.text.lower() in PRONOUNS]
            base = self.weak_label(sentence, "pronoun") if targets else None
            if base is None:
                continue
            i = self.rng.choice(targets)
            tok = toks[i]
            following = toks[i + 1].text.lower() if i + 1 < len(toks) else ""
            word = tok.text.lower()
            possessive = word == "his" or (
                word == "her" and following.isalpha() and following not in FUNCTION_WORDS
            )
            name = self.person(split)
            replacement = name + ("'s" if possessive else "")
            text = sentence[: tok.start] + replacement + sentence[tok.end :]
            shift = len(replacement) - len(tok.text)
            spans = [(a + shift, b + shift) if a >= tok.end else (a, b) for a, b in base.spans]
            spans = sorted([*spans, (tok.start, tok.start + len(name))])
            out.append(self.casing(Example(text, spans, "pronoun")))
        return out


def load_templates() -> list[str]:
    """Template lines from data/templates.txt."""
    lines = (DATA / "templates.txt").read_text(encoding="utf-8").splitlines()
    return [t for t in lines if t.strip() and not t.startswith("#")]


def join(a: Example, b: Example) -> Example:
    """Two sentences in one document, so the model also sees multi-sentence input."""
    shift = len(a.text) + 1
    return Example(f"{a.text} {b.text}", a.spans + [(s + shift, e + shift) for s, e in b.spans], a.source)


def build_datasets(seed: int, exclude: set[str], n_train: int) -> dict[str, list[Example]]:
    """Train, dev and the two held-out test sets; deterministic for a given seed.

    test_names: training templates with names never seen in training. test_templates: unseen templates
    with unseen names. dev: its own templates and names (used to fit the confidence calibration).
    """
    wn = load_wordnet()
    gen = Generator(wn, load_celebrities(), seed, exclude)
    rng = random.Random(seed + 1)
    templates = {split: [t for t in load_templates() if split_of("t:" + t) == split] for split in SPLITS}
    sets: dict[str, list[Example]] = {}
    for split in ("train", "dev"):
        n = n_train if split == "train" else n_train // 15
        out = [gen.fill(rng.choice(templates[split]), split) for _ in range(n)]
        out += gen.gloss_sentences(split) * (2 if split == "train" else 1)
        natural = gen.wordnet_examples(split)
        named = [e for e in natural if e.spans]
        unnamed = [e for e in natural if not e.spans]
        out += named * 2 + rng.sample(unnamed, min(len(unnamed), n // 4))
        out += gen.pronoun_sentences(split)
        rng.shuffle(out)
        if split == "train":
            out += [join(rng.choice(out), rng.choice(out)) for _ in range(n // 10)]
        sets[split] = out
    gen.rng.seed(seed + 2)  # test sets do not depend on how much training data was drawn before them
    rng.seed(seed + 3)
    sets["test_names"] = [gen.fill(rng.choice(templates["train"]), "test") for _ in range(2000)]
    sets["test_templates"] = [gen.fill(rng.choice(templates["test"]), "test") for _ in range(2000)]
    return sets


SPLITS = ("train", "dev", "test")
