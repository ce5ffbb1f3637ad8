"""Character n-gram ("shingle") hashing, vectorised with NumPy.

A text is turned into its Unicode code points (UTF-32), and every window of `char_ngrams`
consecutive code points gets a 64-bit polynomial hash computed for all windows at once from
prefix sums (arithmetic wraps mod 2**64; the base is odd, hence invertible), then scrambled
with the splitmix64 finaliser. A non-empty text shorter than one window is a single shingle
(the whole text); an empty text has no shingles.
"""

from __future__ import annotations

import threading

import numpy as np

_BASE = 0x100000001B3  # odd, so it has an inverse mod 2**64
_BASE_INV = pow(_BASE, -1, 2**64)
_U64 = np.uint64
_powers_lock = threading.Lock()
_powers: tuple[np.ndarray, np.ndarray] = (np.ones(1, dtype=np.uint64), np.ones(1, dtype=np.uint64))


def _geometric(base: int, n: int) -> np.ndarray:
    out = np.empty(n, dtype=np.uint64)
    out[0] = 1
    if n > 1:
        out[1:] = np.cumprod(np.full(n - 1, base, dtype=np.uint64))
    return out


def _power_tables(n: int) -> tuple[np.ndarray, np.ndarray]:
    """(B**i, B**-i) mod 2**64 for i < n (cached, grown on demand)."""
    global _powers
    powers = _powers
    if len(powers[0]) >= n:
        return powers
    with _powers_lock:
        size = max(n, 2 * len(_powers[0]), 4096)
        _powers = (_geometric(_BASE, size), _geometric(_BASE_INV, size))
        return _powers


def mix64(x: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser, elementwise on a uint64 array (wrapping arithmetic)."""
    x = x ^ (x >> _U64(30))
    x *= _U64(0xBF58476D1CE4E5B9)
    x ^= x >> _U64(27)
    x *= _U64(0x94D049BB133111EB)
    x ^= x >> _U64(31)
    return x


def code_points(text: str) -> np.ndarray:
    """The text's Unicode code points as uint64 (lone surrogates kept as themselves)."""
    raw = text.encode("utf-32-le", errors="surrogatepass")
    return np.frombuffer(raw, dtype=np.uint32).astype(np.uint64)


def shingle_hashes(text: str, char_ngrams: int) -> np.ndarray:
    """64-bit hashes of every character n-gram of `text`, in text order (repeats kept)."""
    if char_ngrams < 1:
        raise ValueError(f"char_ngrams must be >= 1, got {char_ngrams}")
    chars = code_points(text)
    n = len(chars)
    if n == 0:
        return np.empty(0, dtype=np.uint64)
    powers, inverse = _power_tables(n + 1)
    prefix = np.empty(n + 1, dtype=np.uint64)
    prefix[0] = 0
    np.cumsum(chars * powers[:n], out=prefix[1:])
    if n < char_ngrams:
        return mix64(np.array([prefix[n] ^ _U64(n)], dtype=np.uint64))
    windows = (prefix[char_ngrams:] - prefix[: n - char_ngrams + 1]) * inverse[: n - char_ngrams + 1]
    return mix64(windows)


def shingle_set(text: str, char_ngrams: int) -> np.ndarray:
    """The sorted distinct shingle hashes of `text` (its n-gram set)."""
    values = np.sort(shingle_hashes(text, char_ngrams))
    if len(values) < 2:
        return values
    keep = np.empty(len(values), dtype=bool)
    keep[0] = True
    np.not_equal(values[1:], values[:-1], out=keep[1:])
    return values[keep]


def jaccard_of_sets(a: np.ndarray, b: np.ndarray) -> float:
    """Jaccard similarity of two sorted distinct hash arrays (1.0 for two empty sets)."""
    if len(a) == 0 and len(b) == 0:
        return 1.0
    if len(a) > len(b):
        a, b = b, a
    if len(a) == 0:
        return 0.0
    position = np.searchsorted(b, a)
    position[position == len(b)] = 0
    inter = int(np.count_nonzero(b[position] == a))
    return inter / (len(a) + len(b) - inter)


def char_ngram_jaccard(text_a: str, text_b: str, char_ngrams: int) -> float:
    """Jaccard similarity of the character n-gram sets of two texts."""
    return jaccard_of_sets(shingle_set(text_a, char_ngrams), shingle_set(text_b, char_ngrams))
