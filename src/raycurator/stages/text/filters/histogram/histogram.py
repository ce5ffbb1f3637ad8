"""`HistogramFilter`: NLLB's cheap language check by character histograms, with the histograms shipped.

NeMo Curator downloads fairseq's histograms at run time; here they are files inside the
package, built from real text found in installed packages (see `build.py` for the sources
and method), so nothing is downloaded. `cache_dir` may point to a folder holding other
histograms in the same layout (`<cache_dir>/histograms/.../<lang>` as fairseq's archive, or
simply `<cache_dir>/<lang>`).
"""

from __future__ import annotations

import os
from pathlib import Path

from raycurator.stages.text.filters.doc_filter import DocumentFilter

#: Folder of the shipped histograms, one file per ISO 639-1 code.
HISTOGRAM_DIR = Path(__file__).with_name("histograms")
_FAIRSEQ_LAYOUT = ("histograms", "checkpoint", "edunov", "cc60_multilingual", "clean_hists")


def available_languages() -> list[str]:
    """Codes of the languages with a shipped histogram."""
    return sorted(p.name for p in HISTOGRAM_DIR.iterdir() if p.is_file())


class HistogramFilter(DocumentFilter):
    """Keeps documents whose characters are mostly in `lang`'s histogram (NLLB, NeMo Curator's score).

    Score: 1 when (characters of the stripped text found in the histogram) / (characters of
    the unstripped text) exceeds `threshold`, else 0 (also 0 for an empty text, which NeMo
    Curator cannot score). Kept when the score is 1.
    """

    def __init__(
        self,
        lang: str | None = "en",
        threshold: float | None = 0.8,
        cache_dir: str | None = "",
        threshold_char: str | None = "]",
    ) -> None:
        super().__init__()
        self._lang = lang
        self._threshold = threshold
        self._cache_dir = cache_dir
        self._threshold_char = threshold_char
        self._name = "histogram"
        self._histogram = self._read_hist(self._histogram_file())

    def _histogram_file(self) -> Path:
        if not isinstance(self._lang, str) or not self._lang or os.sep in self._lang or self._lang.startswith("."):
            raise ValueError(f"HistogramFilter: lang must be a language code, got {self._lang!r}")
        candidates = []
        if self._cache_dir:
            candidates += [Path(self._cache_dir, *_FAIRSEQ_LAYOUT, self._lang), Path(self._cache_dir, self._lang)]
        candidates.append(HISTOGRAM_DIR / self._lang)
        for path in candidates:
            if path.is_file():
                return path
        raise ValueError(
            f"HistogramFilter: no histogram for lang={self._lang!r} (looked in {', '.join(map(str, candidates))}); "
            f"shipped: {', '.join(available_languages())}"
        )

    def _read_hist(self, path: Path) -> frozenset[str]:
        chars: list[str] = []
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                if line[:1] == self._threshold_char:
                    break
                if line:
                    chars.append(line[0])
        return frozenset(chars)

    def score_document(self, text: str) -> int:
        if not text:
            return 0
        found = sum(1 for c in text.strip() if c in self._histogram)
        return 1 if found / len(text) > self._threshold else 0

    def keep_document(self, score: float) -> bool:
        return score == 1
