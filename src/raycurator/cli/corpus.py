"""A deterministic sample corpus for the demo: clean prose, known junk, exact and near duplicates.

Every document has an `id`, a `text`, a `kind` telling what it is and a `group` shared by a
clean document and its copies, so that the demo can check what each curation step removed:

- `clean`: generated English prose (several paragraphs, 120-400 words);
- `exact_dup`: a byte-identical copy of a clean document;
- `unicode_dup`: a copy whose quotes are curled, "fi" made a ligature and lines end with CRLF;
  the Unicode reformatter turns it back into an exact copy;
- `near_dup`: a copy with one or two words changed (caught by fuzzy deduplication);
- `junk_*`: too short, lorem ipsum, "enable JavaScript" notices, cookie boilerplate, URL lists,
  hashtag spam, digit tables, code with braces, one line repeated.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

_NOUNS = (
    "river valley garden engine market teacher village harbor library bridge forest mountain kitchen "
    "window letter island season report station theory painter farmer museum journey concert doctor "
    "lantern meadow pattern family company history picture country student machine winter summer "
    "morning evening council fabric orchard bakery factory printer harvest glacier compass castle "
    "festival neighbor recipe shelter signal canyon coastline ferry tunnel workshop notebook ledger "
    "violin meadowlark quarry archive bicycle blanket chimney cottage desert engineer gallery highway "
    "journal kettle ladder magnet needle ocean pillow puzzle rabbit saddle timber tractor umbrella vessel "
    "wagon yard anchor basket candle diary falcon garage hammer insect jacket kingdom lecture mirror "
    "parade quilt ribbon sailor temple uniform vineyard whistle"
).split()
_VERBS = (
    "carried built watched opened painted followed visited described repaired measured gathered "
    "crossed planted explained borrowed delivered collected studied questioned welcomed protected "
    "discovered recorded shared traded cleaned sketched prepared finished copied restored mapped "
    "counted tested sorted wrapped heated lifted guided moved noticed ordered praised reached"
).split()
_ADJECTIVES = (
    "quiet bright narrow ancient careful gentle heavy modern patient rapid simple steady warm wooden "
    "golden hidden humble local curious distant early famous fragile honest loyal nervous polite proud "
    "rough silent sturdy tidy vivid wild young calm clever eager fierce grand handsome jolly keen lively"
).split()
_ADVERBS = "slowly quickly carefully often rarely gladly softly nearly happily quietly suddenly eventually".split()
_NAMES = "Ada Bruno Clara Dmitri Elena Farid Greta Hugo Ines Jonas Kira Luca Mira Nadia Oskar Priya".split()
_CONNECTORS = ("and", "but", "while", "because", "although", "so", "after", "before")
_CONTRACTIONS = ("it's", "didn't", "wasn't", "couldn't", "they're", "we've", "isn't")
_LOREM = (
    "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore "
    "et dolore magna aliqua ut enim ad minim veniam quis nostrud exercitation ullamco laboris nisi"
).split()

KINDS = (
    "clean",
    "exact_dup",
    "unicode_dup",
    "near_dup",
    "junk_short",
    "junk_lorem",
    "junk_javascript",
    "junk_boilerplate",
    "junk_urls",
    "junk_hashtags",
    "junk_numbers",
    "junk_code",
    "junk_repeated",
)
#: Share of the corpus of each non-clean kind (clean documents make up the rest).
SHARES = {
    "exact_dup": 0.08,
    "unicode_dup": 0.03,
    "near_dup": 0.08,
    "junk_short": 0.04,
    "junk_lorem": 0.015,
    "junk_javascript": 0.015,
    "junk_boilerplate": 0.015,
    "junk_urls": 0.015,
    "junk_hashtags": 0.015,
    "junk_numbers": 0.015,
    "junk_code": 0.015,
    "junk_repeated": 0.015,
}


class _Writer:
    """Sentences and documents from a seeded random generator."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def phrase(self) -> str:
        r = self.rng
        subject = r.choice(
            [f"the {r.choice(_ADJECTIVES)} {r.choice(_NOUNS)}", r.choice(_NAMES), f"a {r.choice(_NOUNS)}"]
        )
        obj = r.choice([f"the {r.choice(_NOUNS)}", f"a {r.choice(_ADJECTIVES)} {r.choice(_NOUNS)}"])
        tail = r.choice(
            ["", f" of the {r.choice(_NOUNS)}", f" near the {r.choice(_NOUNS)}", f" with {r.choice(_NAMES)}"]
        )
        verb = r.choice(_VERBS)
        if r.random() < 0.3:
            verb = f"{r.choice(_ADVERBS)} {verb}"
        return f"{subject} {verb} {obj}{tail}"

    def sentence(self) -> str:
        r = self.rng
        text = self.phrase()
        if r.random() < 0.6:
            text += f" {r.choice(_CONNECTORS)} {self.phrase()}"
        if r.random() < 0.15:
            text += f", and {r.choice(_CONTRACTIONS)} {r.choice(_ADJECTIVES)}"
        return text[0].upper() + text[1:] + r.choice([".", ".", ".", "!", "?"])

    def paragraph(self) -> str:
        return " ".join(self.sentence() for _ in range(self.rng.randint(3, 7)))

    def document(self) -> str:
        while True:
            text = "\n\n".join(self.paragraph() for _ in range(self.rng.randint(2, 4)))
            if 120 <= len(text.split()) <= 400:
                return text


def _curl(text: str) -> str:
    """Typographic variant of `text`: curly apostrophes, the "fi" ligature, CRLF line ends."""
    return text.replace("'", "\u2019").replace("fi", "\ufb01").replace("\n", "\r\n")


def _near(text: str, rng: random.Random) -> str:
    words = text.split(" ")
    for _ in range(rng.randint(1, 2)):
        index = rng.randrange(len(words))
        if words[index].isalpha():
            words[index] = rng.choice(_NOUNS)
    return " ".join(words)


def _junk(kind: str, w: _Writer) -> str:
    r = w.rng
    if kind == "junk_short":
        return w.sentence() if r.random() < 0.5 else f"{w.sentence()} {w.sentence()}"
    if kind == "junk_lorem":
        words = [r.choice(_LOREM) for _ in range(r.randint(80, 160))]
        return "Lorem ipsum " + " ".join(words) + "."
    if kind == "junk_javascript":
        lines = [
            "Please enable JavaScript to view this page.",
            "JavaScript is disabled in your browser.",
            w.sentence(),
        ] * r.randint(6, 10)
        return "\n".join(lines)
    if kind == "junk_boilerplate":
        lines = [
            "This website uses cookies to improve your experience.",
            "By continuing you agree to our privacy policy and terms of use.",
            "Read our cookie policy for the details on the use of cookies.",
        ] * r.randint(5, 9)
        return "\n".join([*lines, w.sentence()])
    if kind == "junk_urls":
        urls = []
        for _ in range(r.randint(30, 60)):
            host, section, page = r.randint(1, 999), r.choice(_NOUNS), r.choice(_NOUNS)
            urls.append(f"https://www.example-{host}.com/{section}/{page}?id={r.randint(1, 10**6)}")
        return "\n".join(urls)
    if kind == "junk_hashtags":
        return " ".join(f"#{r.choice(_NOUNS)} #{r.choice(_ADJECTIVES)}{r.choice(_NOUNS)}" for _ in range(60))
    if kind == "junk_numbers":
        rows = [" ".join(str(r.randint(1000, 99999)) for _ in range(8)) for _ in range(r.randint(20, 40))]
        return "Quarterly figures\n" + "\n".join(rows)
    if kind == "junk_code":
        body = "\n".join(
            f"  let {r.choice(_NOUNS)} = compute({r.choice(_NOUNS)}, {r.randint(1, 99)});" for _ in range(20)
        )
        return f"function update() {{\n{body}\n  return {{ status: 'ok' }};\n}}\n" + w.paragraph()
    if kind == "junk_repeated":
        line = w.sentence()
        return "\n".join([line] * r.randint(25, 50))
    raise ValueError(f"unknown junk kind {kind!r}")


@dataclass
class CorpusInfo:
    """What `generate_corpus` wrote."""

    path: Path
    files: list[Path]
    num_docs: int
    kinds: dict[str, int] = field(default_factory=dict)
    num_bytes: int = 0


def make_documents(num_docs: int, seed: int = 1234) -> list[dict[str, str]]:
    """`num_docs` documents (id, text, kind, group) in a shuffled, seed-determined order."""
    rng = random.Random(seed)
    writer = _Writer(rng)
    counts = {kind: max(1, int(num_docs * share)) for kind, share in SHARES.items()}
    num_clean = max(num_docs - sum(counts.values()), 1)
    clean = [writer.document() for _ in range(num_clean)]
    docs: list[tuple[str, str, int]] = [(text, "clean", index) for index, text in enumerate(clean)]
    # each duplicate copies a different clean document (a clean one may have several copies)
    sources = rng.sample(range(num_clean), k=min(num_clean, counts["exact_dup"] + counts["near_dup"]))
    for i in range(counts["exact_dup"]):
        source = sources[i % len(sources)]
        docs.append((clean[source], "exact_dup", source))
    for _ in range(counts["unicode_dup"]):
        source = rng.randrange(num_clean)
        docs.append((_curl(clean[source]), "unicode_dup", source))
    for i in range(counts["near_dup"]):
        source = sources[(counts["exact_dup"] + i) % len(sources)]
        docs.append((_near(clean[source], rng), "near_dup", source))
    junk_group = num_clean
    for kind in KINDS:
        if kind.startswith("junk_"):
            for _ in range(counts[kind]):
                docs.append((_junk(kind, writer), kind, junk_group))
                junk_group += 1
    rng.shuffle(docs)
    return [
        {"id": f"doc-{i:06d}", "text": text, "kind": kind, "group": f"g{group:06d}"}
        for i, (text, kind, group) in enumerate(docs)
    ]


def generate_corpus(path: str | Path, num_docs: int = 3000, seed: int = 1234, num_files: int = 4) -> CorpusInfo:
    """Write the corpus as `num_files` JSONL files under `path` (created; must not hold other .jsonl files)."""
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    docs = make_documents(num_docs, seed)
    num_files = max(1, min(num_files, len(docs)))
    files: list[Path] = []
    size = 0
    per_file = -(-len(docs) // num_files)
    for index in range(num_files):
        chunk = docs[index * per_file : (index + 1) * per_file]
        if not chunk:
            break
        file = folder / f"part-{index:03d}.jsonl"
        text = "".join(json.dumps(doc, ensure_ascii=False) + "\n" for doc in chunk)
        file.write_text(text, encoding="utf-8")
        size += len(text.encode("utf-8"))
        files.append(file)
    return CorpusInfo(folder, files, len(docs), dict(Counter(d["kind"] for d in docs)), size)
