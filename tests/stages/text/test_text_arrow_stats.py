"""The vectorised text statistics equal their Python definitions."""

from __future__ import annotations

import random

import numpy as np
import pyarrow as pa
import pytest

from raycurator.stages.text import _arrow_text as at

ALPHABET = "ab Z09\t\n\x0b\x1c\x85\xa0é日\u2003\u3000\U0001f600\u2028#.,{}x²٣\U00010400"


def _random_texts(count: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 40))) for _ in range(count)]


@pytest.mark.parametrize("large", [False, True])
def test_counts_equal_python_definitions(large):
    texts = [*_random_texts(800), "", " ", "plain ascii words here"]
    array = pa.array(texts, type=pa.large_string() if large else pa.string())
    assert at.word_counts(array).tolist() == [len(t.split()) for t in texts]
    assert at.char_lengths(array).tolist() == [len(t) for t in texts]
    for name, predicate in at.CHAR_PREDICATES.items():
        assert at.count_chars(array, name).tolist() == [sum(map(predicate, t)) for t in texts], name


def test_sliced_chunked_and_null_inputs():
    texts = _random_texts(300, seed=3)
    chunked = pa.chunked_array([pa.array(texts[:100]), pa.array(texts[100:])])
    array = at.to_string_array(chunked).slice(17, 200)
    assert at.word_counts(array).tolist() == [len(t.split()) for t in texts[17:217]]
    with_nulls = at.to_string_array(pa.array(["a b", None, "c"]))
    assert with_nulls.null_count == 0
    assert at.word_counts(with_nulls).tolist() == [2, 0, 1]


def test_big_batches_are_processed_in_slices(monkeypatch):
    monkeypatch.setattr(at, "_SLICE_BYTES", 64)
    texts = _random_texts(500, seed=11)
    array = pa.array(texts)
    assert at.word_counts(array).tolist() == [len(t.split()) for t in texts]
    assert at.count_chars(array, "alnum").tolist() == [sum(c.isalnum() for c in t) for t in texts]


def test_empty_inputs():
    empty = pa.array([], type=pa.string())
    assert at.word_counts(empty).tolist() == []
    assert at.count_chars(pa.array(["", ""]), "space").tolist() == [0, 0]
    assert at.word_counts(pa.array(["", ""])).tolist() == [0, 0]


def test_safe_ratio_uses_empty_value():
    out = at.safe_ratio(np.array([1, 0]), np.array([2, 0]), empty_value=9.0)
    assert out.tolist() == [0.5, 9.0]


def test_non_string_input_is_rejected():
    with pytest.raises(TypeError, match="strings"):
        at.to_string_array(pa.array([1, 2]))
