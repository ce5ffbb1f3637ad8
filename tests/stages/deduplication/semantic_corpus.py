"""Test documents for semantic dedup: paraphrase pairs and templated pages written for these
tests, distinct documents, and real near-paraphrases found on disk (license texts shipped by
installed packages)."""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

# (original, paraphrase): the same meaning in other words
PARAPHRASE_PAIRS: list[tuple[str, str]] = [
    (
        "The city council voted on Tuesday to extend the opening hours of the public library until ten "
        "in the evening, starting next month, after many students asked for more time to study.",
        "On Tuesday the city council approved longer opening hours for the public library: from next "
        "month it will stay open until 10 pm, following requests from many students who wanted more study time.",
    ),
    (
        "To reset your password, open the settings page, choose the security tab and click the button "
        "labelled 'Forgot password'; a link to choose a new one will be sent to your email address.",
        "If you need a new password, go to settings, select the security tab and press 'Forgot password'. "
        "We will email you a link that lets you pick a new password.",
    ),
    (
        "Heavy rain is expected across the northern region this weekend, and the weather service has "
        "warned that rivers may flood low-lying roads on Saturday night.",
        "The weather service warns that heavy rainfall will hit the north this weekend and that rivers "
        "could flood low roads on Saturday night.",
    ),
    (
        "Our store will be closed on Monday for the public holiday and will reopen on Tuesday at nine "
        "in the morning with the usual opening hours.",
        "Because of the public holiday the shop is closed on Monday; we open again at 9 am on Tuesday "
        "with our normal hours.",
    ),
    (
        "Preheat the oven to 180 degrees, mix the flour, sugar and butter in a large bowl, then add "
        "two eggs and bake the cake for about forty minutes.",
        "Heat the oven to 180 degrees. In a big bowl combine flour, sugar and butter, add two eggs, and "
        "bake the cake for roughly 40 minutes.",
    ),
    (
        "The company reported that its quarterly profit rose by twelve percent, driven mostly by strong "
        "sales of its new smartphone in Asia and Europe.",
        "Quarterly profits at the company were up 12 percent, it said, mainly thanks to strong sales of "
        "its new smartphone in Europe and Asia.",
    ),
    (
        "Regular exercise such as walking for thirty minutes a day lowers the risk of heart disease "
        "and helps people sleep better, according to the new study.",
        "According to a new study, walking or other regular exercise for half an hour each day reduces "
        "the risk of heart disease and improves sleep.",
    ),
    (
        "The train to the airport leaves every fifteen minutes from platform four; tickets can be "
        "bought from the machines in the station hall or on the mobile app.",
        "Trains to the airport depart from platform 4 every quarter of an hour. Buy your ticket at the "
        "machines in the station hall or in the mobile app.",
    ),
]

# unrelated topics, one document each
DISTINCT: list[str] = [
    "Volcanic eruptions release ash and sulphur dioxide high into the atmosphere, which can cool the "
    "planet for a year or two by reflecting sunlight back into space.",
    "The violinist practised the difficult passage slowly, one bar at a time, until her fingers "
    "found the notes without thinking.",
    "Compound interest means that the interest you earn is added to your savings, so next year you "
    "also earn interest on the interest.",
    "Octopuses can change the colour and texture of their skin in a fraction of a second to hide "
    "from predators on the sea floor.",
    "The medieval castle was built on a hill above the river so that its guards could see enemies "
    "approaching from far away.",
    "A good night's sleep helps the brain store what was learned during the day, which is why "
    "students should not stay up all night before an exam.",
    "The football match ended in a draw after the goalkeeper saved a penalty in the last minute of "
    "extra time.",
    "Python lists can hold values of different types, and they grow automatically when new items "
    "are appended at the end.",
    "Bees communicate the direction and distance of flowers to other bees in the hive by performing "
    "a waggle dance.",
    "The museum's new exhibition shows paintings by young artists from twelve countries, together "
    "with sketches and letters that explain their work.",
    "Glaciers in the Alps have lost more than half of their volume since the middle of the last "
    "century because of rising summer temperatures.",
    "Tomatoes grow best in sunny spots with rich soil, and they need regular watering once the "
    "first fruits begin to form.",
]

TEMPLATE = (
    "{item} - Example Shop. Free delivery on all orders over 50 dollars. Order today and your parcel "
    "arrives within two working days. Secure payment by card or bank transfer, and easy returns "
    "within thirty days of delivery. Sign up for our newsletter to hear about offers first. "
    "Customer service is open from Monday to Friday, nine to five."
)
TEMPLATE_ITEMS = [
    f"Classic cotton T-shirt, {colour}, size {size}"
    for colour, size in [("blue", "M"), ("red", "L"), ("black", "S"), ("white", "XL"), ("green", "M"), ("grey", "L")]
]


def templated_pages() -> list[str]:
    """Shop pages made from one template, differing only in the product variant."""
    return [TEMPLATE.format(item=item) for item in TEMPLATE_ITEMS]


@dataclass
class LabelledDoc:
    id: str
    text: str
    group: str  # documents of one group mean the same thing


def labelled_corpus() -> list[LabelledDoc]:
    """Paraphrase pairs, templated pages and distinct documents, with their groups."""
    docs: list[LabelledDoc] = []
    for i, (a, b) in enumerate(PARAPHRASE_PAIRS):
        docs.append(LabelledDoc(f"para-{i:02d}-a", a, f"para-{i}"))
        docs.append(LabelledDoc(f"para-{i:02d}-b", b, f"para-{i}"))
    for i, text in enumerate(templated_pages()):
        docs.append(LabelledDoc(f"tmpl-{i:02d}", text, "template"))
    for i, text in enumerate(DISTINCT):
        docs.append(LabelledDoc(f"dist-{i:02d}", text, f"dist-{i}"))
    return docs


_MIT = re.compile(r"permission is hereby granted, free of charge", re.IGNORECASE)


def installed_mit_licenses(limit: int = 6) -> list[tuple[str, str]]:
    """(package, license text) of up to `limit` MIT licenses shipped by installed packages: the same
    terms, each with its own copyright lines and layout."""
    found: dict[str, str] = {}
    for root in map(Path, sys.path):
        if not root.is_dir() or "site-packages" not in str(root):
            continue
        for info in sorted(root.glob("*.dist-info")):
            for path in sorted(info.rglob("LICEN[CS]E*")):
                if not path.is_file() or path.stat().st_size > 20_000:
                    continue
                text = path.read_text(encoding="utf-8", errors="replace")
                starts = text.lstrip().lower().startswith(("mit license", "the mit license", "copyright"))
                if starts and _MIT.search(text) and len(text.split()) <= 260:
                    package = info.name.split("-")[0]
                    found.setdefault(package, text.strip())
            if len(found) >= limit:
                return sorted(found.items())
    return sorted(found.items())
