"""Recall and false positives of `PiiRedactor` per entity type on a labelled set built here.

The set: template sentences with seeded entities in several formats (gold spans known), hard
near-misses (numbers that fail a checksum, dates, versions, ISBNs...) that must not be redacted,
and real human-written text with no personal data: the license files of installed packages,
minus the lines holding an "@" (those can hold real e-mail addresses, which are not false
positives). Run: `python benchmarks/bench_pii_redaction.py [--docs N] [--seed S] [--ner]`.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import random
import string
import time
from dataclasses import dataclass, field
from pathlib import Path

from raycurator.stages.text.pii import PiiEntity, PiiRedactor

FIRST = ["john", "maria", "wei", "fatima", "lucas", "anna", "kenji", "olga", "pierre", "amara"]
LAST = ["smith", "garcia", "zhang", "khan", "silva", "novak", "tanaka", "ivanova", "dubois", "okafor"]
DOMAINS = ["example.com", "mail.example.org", "uni-hamburg.de", "company.co.uk", "startup.io"]
TEMPLATES = [
    "Please contact {} if you have any questions about the order.",
    "For the record, the value we have on file is {} and it was confirmed yesterday.",
    "{} — that is what the form said when I checked it this morning.",
    "The customer wrote: my details are {}, please update the account.",
    "Send everything to {}.\nThanks again for your help with the migration.",
    "According to the log the entry ({}) was created during the night shift.",
]


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(string.digits) for _ in range(n))


def _luhn_complete(prefix: str, length: int, rng: random.Random) -> str:
    body = prefix + _digits(rng, length - len(prefix) - 1)
    for check in string.digits:
        candidate = body + check
        total = sum(
            (int(c) * 2 - 9 if int(c) > 4 else int(c) * 2) if i % 2 else int(c)
            for i, c in enumerate(reversed(candidate))
        )
        if total % 10 == 0:
            return candidate
    raise AssertionError


def _iban(country: str, length: int, rng: random.Random, valid: bool = True) -> str:
    bban = _digits(rng, length - 4)
    numeric = int("".join(str(int(c, 36)) for c in bban + country + "00"))
    check = 98 - numeric % 97
    if not valid:
        check = (check + 1) % 97 or 2
    return f"{country}{check:02d}{bban}"


def _group(value: str, size: int, sep: str) -> str:
    return sep.join(value[i : i + size] for i in range(0, len(value), size))


def email(rng: random.Random) -> str:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    local = rng.choice([f"{first}.{last}", f"{first}_{last}{rng.randint(1, 99)}", f"{first[0]}.{last}+news"])
    return f"{local}@{rng.choice(DOMAINS)}"


def phone(rng: random.Random) -> str:
    a, b, c = _digits(rng, 3), _digits(rng, 3), _digits(rng, 4)
    a = str(rng.randint(2, 9)) + a[1:]
    return rng.choice(
        [
            f"({a}) {b}-{c}", f"{a}-{b}-{c}", f"{a}.{b}.{c}", f"+1 {a} {b} {c}", f"+44 20 {_digits(rng, 4)} {c}",
            f"+49 30 {_digits(rng, 8)}", "+33 1 " + " ".join(_digits(rng, 2) for _ in range(4)),
            f"020 {_digits(rng, 4)} {c}", f"+91 {_digits(rng, 5)} {_digits(rng, 5)}",
        ]
    )  # fmt: skip


def ip_address(rng: random.Random) -> str:
    if rng.random() < 0.6:
        return ".".join(str(rng.randint(1, 254)) for _ in range(4))
    groups = [f"{rng.randint(0, 0xFFFF):x}" for _ in range(8)]
    return rng.choice([":".join(groups), f"2001:db8::{groups[0]}:{groups[1]}", f"fe80::{groups[2]}:{groups[3]}"])


def credit_card(rng: random.Random) -> str:
    kind = rng.choice(["visa", "mc", "amex", "disc"])
    if kind == "amex":
        number = _luhn_complete(rng.choice(["34", "37"]), 15, rng)
        sep = rng.choice([" ", "-", ""])
        return sep.join([number[:4], number[4:10], number[10:]])
    prefix = {"visa": "4", "mc": rng.choice(["51", "53", "55", "2221"]), "disc": "6011"}[kind]
    return _group(_luhn_complete(prefix, 16, rng), 4, rng.choice([" ", "-", ""]))


def iban(rng: random.Random) -> str:
    country, length = rng.choice([("DE", 22), ("GB", 22), ("FR", 27), ("NL", 18), ("ES", 24), ("IT", 27)])
    value = _iban(country, length, rng)
    return _group(value, 4, " ") if rng.random() < 0.6 else value


def us_ssn(rng: random.Random) -> str:
    return f"{rng.randint(1, 665):03d}-{rng.randint(1, 99):02d}-{rng.randint(1, 9999):04d}"


def url_credentials(rng: random.Random) -> str:
    scheme = rng.choice(["https", "ftp", "postgres", "mongodb+srv", "redis"])
    user = rng.choice(FIRST)
    password = "".join(rng.choice(string.ascii_letters + string.digits + "!$%") for _ in range(rng.randint(8, 16)))
    return f"{scheme}://{user}:{password}@{rng.choice(DOMAINS)}/db"


def _random_token(rng: random.Random, n: int, alphabet: str = string.ascii_letters + string.digits) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def secret(rng: random.Random) -> tuple[str, str]:
    """(the text to insert, the secret inside it)."""
    kind = rng.randrange(8)
    value = [
        "AKIA" + _random_token(rng, 16, string.ascii_uppercase + string.digits),
        "ghp_" + _random_token(rng, 36),
        "xoxb-" + _digits(rng, 12) + "-" + _random_token(rng, 24),
        "AIza" + _random_token(rng, 35),
        "sk_live_" + _random_token(rng, 24),
        "sk-proj-" + _random_token(rng, 40),
        _random_token(rng, 32),
        "eyJ" + _random_token(rng, 20) + ".eyJ" + _random_token(rng, 30) + "." + _random_token(rng, 24),
    ][kind]
    if kind == 6:
        return rng.choice([f'api_key = "{value}"', f"password: {value}", f"client_secret={value}"]), value
    return value, value


CITIES = ["Berlin", "Lisbon", "Nairobi", "Osaka", "Toronto", "Melbourne", "Krakow", "Lyon", "Chicago", "Lima"]
NER_TEMPLATES = {
    PiiEntity.PERSON: [
        "Yesterday {} presented the quarterly results to the board.",
        "The letter was signed by {} and sent on Monday.",
        "According to {}, the bridge will reopen next spring.",
    ],
    PiiEntity.LOCATION: [
        "The conference will take place in {} next September.",
        "She moved to {} after finishing her degree.",
        "Flights to {} were cancelled because of the storm.",
    ],
}


def person(rng: random.Random) -> str:
    return f"{rng.choice(FIRST).title()} {rng.choice(LAST).title()}"


def ner_documents(count: int, seed: int = 0) -> list[Document]:
    """`count` sentences with one seeded person or city each."""
    rng = random.Random(seed)
    documents = []
    for index in range(count):
        entity = (PiiEntity.PERSON, PiiEntity.LOCATION)[index % 2]
        value = person(rng) if entity is PiiEntity.PERSON else rng.choice(CITIES)
        prefix, suffix = rng.choice(NER_TEMPLATES[entity]).split("{}")
        documents.append(Document(prefix + value + suffix, [(len(prefix), len(prefix) + len(value), entity)]))
    return documents


GENERATORS = {
    PiiEntity.EMAIL: email,
    PiiEntity.PHONE: phone,
    PiiEntity.IP_ADDRESS: ip_address,
    PiiEntity.CREDIT_CARD: credit_card,
    PiiEntity.IBAN: iban,
    PiiEntity.US_SSN: us_ssn,
    PiiEntity.URL_CREDENTIALS: url_credentials,
}


def near_misses(rng: random.Random) -> list[str]:
    """Text that looks like an entity but is not one (any redaction is a false positive)."""
    card = _luhn_complete("4", 16, rng)
    bad_card = card[:-1] + str((int(card[-1]) + 1) % 10)
    return [
        f"Order number {_group(bad_card, 4, ' ')} failed the checksum.",
        f"The transfer reference {_group(_iban('DE', 22, rng, valid=False), 4, ' ')} is not an account.",
        f"Numbers such as 000-{rng.randint(10, 99)}-{rng.randint(1000, 9999)} and 666-12-3456 are never issued.",
        f"The meeting is on 2024-{rng.randint(1, 12):02d}-{rng.randint(10, 28)} at 10:{rng.randint(10, 59)}:00.",
        f"Upgrade to release 3.{rng.randint(0, 20)}.{rng.randint(0, 9)} before the end of the year.",
        "ISBN 978-3-16-148410-0 and ISSN 2049-3630 appear in the citation.",
        f"The population grew from {rng.randint(1000, 9999)} to {rng.randint(10000, 99999)} between 1990 and 2020.",
        f"Coordinates 48.{_digits(rng, 4)}, 2.{_digits(rng, 4)} mark the spot.",
        "Pages 1041-1059 of volume 12, issue 3; see also 10.1038/nphys1170.",
        f"The password must be at least {rng.randint(8, 16)} characters long and the api key field is optional.",
    ]


@dataclass
class Document:
    text: str
    gold: list[tuple[int, int, PiiEntity]] = field(default_factory=list)


def labelled_documents(count: int, seed: int = 0) -> list[Document]:
    """`count` template documents with one or two seeded entities each (gold spans recorded)."""
    rng = random.Random(seed)
    types = [*GENERATORS, PiiEntity.SECRET]
    documents = []
    for index in range(count):
        entity = types[index % len(types)]
        template = rng.choice(TEMPLATES)
        if entity is PiiEntity.SECRET:
            inserted, value = secret(rng)
        else:
            inserted = value = GENERATORS[entity](rng)
        prefix, suffix = template.split("{}")
        text = prefix + inserted + suffix
        start = len(prefix) + inserted.index(value)
        end = start + len(value)
        if entity is PiiEntity.URL_CREDENTIALS:  # the credentials, not the whole URL
            start = len(prefix) + inserted.index("://") + 3
            end = len(prefix) + inserted.rindex("@")
        documents.append(Document(text, [(start, end, entity)]))
    return documents


def real_texts() -> list[str]:
    """License texts of installed packages, lines with "@" removed (no personal data left to find)."""
    texts = set()
    for dist in importlib.metadata.distributions():
        for file in dist.files or []:
            upper = str(file).upper()
            if "LICEN" in upper or "COPYING" in upper:
                path = Path(dist.locate_file(file))
                if path.is_file() and path.stat().st_size < 200_000:
                    text = path.read_text(encoding="utf-8", errors="replace")
                    texts.add("\n".join(line for line in text.splitlines() if "@" not in line))
    return sorted(texts)


def evaluate(redactor: PiiRedactor, documents: list[Document], negatives: list[str]) -> dict[str, dict[str, float]]:
    """Per type: gold count, found (fully covered by a span of that type), recall, and false positives."""
    figures: dict[str, dict[str, float]] = {}

    def row(entity: PiiEntity) -> dict[str, float]:
        return figures.setdefault(entity.value, {"gold": 0, "found": 0, "fp_templates": 0, "fp_negatives": 0})

    for document in documents:
        spans = redactor.find(document.text)
        for start, end, entity in document.gold:
            row(entity)["gold"] += 1
            if any(s.entity is entity and s.start <= start and s.end >= end for s in spans):
                row(entity)["found"] += 1
        for span in spans:
            gold = [(s, e) for s, e, t in document.gold if t is span.entity]
            if not any(s <= span.start < e or span.start <= s < span.end for s, e in gold):
                row(span.entity)["fp_templates"] += 1
    characters = 0
    for text in negatives:
        characters += len(text)
        for span in redactor.find(text):
            row(span.entity)["fp_negatives"] += 1
    for values in figures.values():
        values["recall"] = values["found"] / values["gold"] if values["gold"] else float("nan")
        values["fp_per_mb_real_text"] = values["fp_negatives"] / max(characters, 1) * 1e6
    figures["_negatives"] = {"characters": characters, "texts": len(negatives)}
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--docs", type=int, default=4000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--ner", action="store_true", help="also run Presidio + spaCy (PERSON, LOCATION)")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    documents = labelled_documents(args.docs, args.seed)
    if args.ner:
        documents += ner_documents(max(20, args.docs // 10), args.seed)
    hard = [text for _ in range(max(1, args.docs // 40)) for text in near_misses(rng)]
    redactor = PiiRedactor(salt="bench", use_ner=args.ner)
    started = time.perf_counter()
    figures = evaluate(redactor, documents, real_texts())
    hard_hits: dict[str, int] = {}
    for text in hard:
        for span in redactor.find(text):
            hard_hits[span.entity.value] = hard_hits.get(span.entity.value, 0) + 1
    elapsed = time.perf_counter() - started
    print(f"{len(documents)} labelled documents, {len(hard)} near misses, "
          f"{figures['_negatives']['texts']} real texts ({figures['_negatives']['characters']:,} characters); "
          f"{elapsed:.1f} s")  # fmt: skip
    header = ("gold", 5), ("found", 6), ("recall", 7), ("FP tmpl", 8), ("FP real", 8), ("FP/MB", 7), ("FP near", 8)
    print(f"{'type':16} " + " ".join(f"{name:>{width}}" for name, width in header))
    for name, values in sorted(figures.items()):
        if name.startswith("_"):
            continue
        print(f"{name:16} {values['gold']:5.0f} {values['found']:6.0f} {values['recall']:7.3f} "
              f"{values['fp_templates']:8.0f} {values['fp_negatives']:8.0f} {values['fp_per_mb_real_text']:7.1f} "
              f"{hard_hits.get(name, 0):8d}")  # fmt: skip
    for name in sorted(set(hard_hits) - set(figures)):
        print(f"{name:16} near-miss false positives: {hard_hits[name]}")
    print(json.dumps({"near_miss_false_positives": hard_hits}))


if __name__ == "__main__":
    main()
