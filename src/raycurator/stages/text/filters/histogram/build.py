"""Builds the character histograms `HistogramFilter` ships, from real text in installed packages.

Run `python -m raycurator.stages.text.filters.histogram.build` (it rewrites `histograms/`).
Sources, all found on disk (nothing is downloaded):

- English: the licence texts and READMEs (`*.dist-info/LICENSE*`, `METADATA`) of the
  installed Python packages;
- Chinese: jieba's dictionary (`jieba/dict.txt`, characters weighted by word frequency)
  and jieba's README;
- about 65 other languages: jusText's stop-word lists (`justext/stoplists/*.txt`, the most
  frequent words of each language's Wikipedia).

Per language the characters are sorted by frequency and kept until they cover
`COVERAGE` (99%) of all characters; upper-case forms of kept letters and `SHARED` (digits,
common punctuation, whitespace) are added, since stop-word lists hold neither. The file
format is fairseq's (and NeMo Curator's): one character per line, most frequent first, and
a line starting with "]" where the histogram ends.
"""

from __future__ import annotations

import glob
import os
import sys
from collections import Counter
from pathlib import Path

COVERAGE = 0.99
THRESHOLD_CHAR = "]"
SHARED = " \t\n0123456789.,;:!?'\"()-/%&*+=@#_\u2013\u2014\u2026\u00ab\u00bb\u201c\u201d\u2018\u2019"
CJK_PUNCTUATION = "\uff0c\u3002\u3001\uff1b\uff1a\uff1f\uff01\u300a\u300b\u3010\u3011\uff08\uff09\u00b7"
OUTPUT = Path(__file__).with_name("histograms")

#: jusText stop-list file name -> ISO 639-1 code.
JUSTEXT_LANGUAGES = {
    "Afrikaans": "af", "Albanian": "sq", "Arabic": "ar", "Armenian": "hy", "Azerbaijani": "az", "Basque": "eu",
    "Belarusian": "be", "Bengali": "bn", "Bosnian": "bs", "Breton": "br", "Bulgarian": "bg", "Catalan": "ca",
    "Croatian": "hr", "Czech": "cs", "Danish": "da", "Dutch": "nl", "Esperanto": "eo", "Estonian": "et",
    "Finnish": "fi", "French": "fr", "Galician": "gl", "Georgian": "ka", "German": "de", "Greek": "el",
    "Gujarati": "gu", "Hebrew": "he", "Hindi": "hi", "Hungarian": "hu", "Icelandic": "is", "Indonesian": "id",
    "Irish": "ga", "Italian": "it", "Kannada": "kn", "Kazakh": "kk", "Korean": "ko", "Latin": "la",
    "Latvian": "lv", "Lithuanian": "lt", "Macedonian": "mk", "Malay": "ms", "Malayalam": "ml", "Maltese": "mt",
    "Marathi": "mr", "Nepali": "ne", "Norwegian_Bokmal": "nb", "Norwegian_Nynorsk": "nn", "Persian": "fa",
    "Polish": "pl", "Portuguese": "pt", "Romanian": "ro", "Russian": "ru", "Serbian": "sr", "Slovak": "sk",
    "Slovenian": "sl", "Spanish": "es", "Swahili": "sw", "Swedish": "sv", "Tagalog": "tl", "Tamil": "ta",
    "Telugu": "te", "Turkish": "tr", "Ukrainian": "uk", "Urdu": "ur", "Uzbek": "uz", "Vietnamese": "vi",
    "Welsh": "cy", "Yoruba": "yo",
}  # fmt: skip


def histogram(counts: Counter[str], extra: str = SHARED) -> list[str]:
    """Characters by falling frequency up to `COVERAGE` of the mass, then upper-case forms and `extra`."""
    total = sum(counts.values())
    kept: list[str] = []
    covered = 0
    for char, count in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
        if covered >= COVERAGE * total:
            break
        if char.isprintable() and char != THRESHOLD_CHAR:
            kept.append(char)
        covered += count
    for char in [c.upper() for c in kept] + list(extra):
        if len(char) == 1 and char not in kept and char != THRESHOLD_CHAR:
            kept.append(char)
    return kept


def _site_packages() -> Path:
    import justext

    return Path(justext.__file__).resolve().parent.parent


def sources() -> dict[str, Counter[str]]:
    """Character counts per language code, from the installed packages."""
    site = _site_packages()
    found: dict[str, Counter[str]] = {}
    english: Counter[str] = Counter()
    for pattern in ("*.dist-info/LICENSE*", "*.dist-info/licenses/*", "*.dist-info/METADATA"):
        for path in sorted(glob.glob(str(site / pattern))):
            if os.path.isfile(path):
                english.update(Path(path).read_text(encoding="utf-8", errors="ignore"))
    found["en"] = english
    chinese: Counter[str] = Counter()
    for line in (site / "jieba" / "dict.txt").read_text(encoding="utf-8").splitlines():
        word, frequency = line.split(" ")[:2]
        for char in word:
            chinese[char] += int(frequency)
    found["zh"] = chinese
    for name, code in JUSTEXT_LANGUAGES.items():
        words = (site / "justext" / "stoplists" / f"{name}.txt").read_text(encoding="utf-8").split()
        found[code] = Counter("".join(words))
    return found


def main() -> None:
    OUTPUT.mkdir(exist_ok=True)
    for code, counts in sorted(sources().items()):
        chars = histogram(counts, SHARED + (CJK_PUNCTUATION if code == "zh" else ""))
        (OUTPUT / code).write_text("".join(f"{c}\n" for c in chars) + f"{THRESHOLD_CHAR}\n", encoding="utf-8")
        print(f"{code}: {len(chars)} characters", file=sys.stderr)


if __name__ == "__main__":
    main()
