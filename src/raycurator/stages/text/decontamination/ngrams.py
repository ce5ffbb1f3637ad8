"""Normalised word n-grams as 64-bit hashes (the unit that decontamination matches on).

Normalisation: Unicode NFKC, lower case, words are runs of `\\w` characters (punctuation and
whitespace only separate words), so case, spacing and punctuation changes do not hide a match.
An n-gram's hash combines its words' xxh3 hashes polynomially modulo 2**64, vectorised with numpy.
"""

from __future__ import annotations

import re
import unicodedata

import numpy as np
import xxhash

_WORD = re.compile(r"\w+")
_BASE = np.uint64(0x100000001B3)


def words_with_spans(text: str) -> tuple[list[str], list[tuple[int, int]]]:
    """The normalised words of `text` and their character spans in `text`."""
    words: list[str] = []
    spans: list[tuple[int, int]] = []
    for match in _WORD.finditer(text):
        words.append(unicodedata.normalize("NFKC", match.group(0)).lower())
        spans.append(match.span())
    return words, spans


def normalized_words(text: str) -> list[str]:
    """The normalised words of `text`."""
    return [unicodedata.normalize("NFKC", w).lower() for w in _WORD.findall(text)]


def word_hashes(words: list[str]) -> np.ndarray:
    """One uint64 hash per word."""
    return np.fromiter((xxhash.xxh3_64_intdigest(w.encode("utf-8")) for w in words), dtype=np.uint64, count=len(words))


def ngram_hashes(hashes: np.ndarray, size: int) -> np.ndarray:
    """The hash of every window of `size` consecutive words (empty when there are fewer words)."""
    count = len(hashes) - size + 1
    if count <= 0:
        return np.empty(0, dtype=np.uint64)
    with np.errstate(over="ignore"):
        result = hashes[:count].copy()
        for offset in range(1, size):
            result = result * _BASE + hashes[offset : offset + count]
    return result
