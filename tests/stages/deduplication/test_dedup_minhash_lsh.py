"""Unit tests: shingle hashing, MinHash, band selection and bucket ids."""

from __future__ import annotations

import random

import numpy as np
import pyarrow as pa
import pytest
from dedup_corpus import make_vocabulary, mutate, random_words

from raycurator.errors import StageInputError
from raycurator.stages.deduplication.fuzzy.lsh import (
    InMemoryLSHStage,
    band_bucket_ids,
    candidate_probability,
    optimal_param,
    resolve_lsh_params,
)
from raycurator.stages.deduplication.fuzzy.minhash import (
    EMPTY_SIGNATURE_VALUE,
    InMemoryMinHashStage,
    MinHasher,
    estimate_jaccard,
    signatures_from_arrow,
)
from raycurator.stages.deduplication.fuzzy.rows import BUCKET_FIELD, KIND_BUCKET, KIND_DOCUMENT, ROW_KIND_FIELD
from raycurator.stages.deduplication.fuzzy.shingles import char_ngram_jaccard, shingle_hashes, shingle_set
from raycurator.tasks import DocumentBatch


def python_ngrams(text: str, n: int) -> set[str]:
    if not text:
        return set()
    if len(text) < n:
        return {text}
    return {text[i : i + n] for i in range(len(text) - n + 1)}


@pytest.mark.parametrize("text", ["", "abc", "hello world, hello world!", "héllo wörld ✓ 日本語テキスト" * 3])
def test_shingle_hashes_match_python_ngram_sets(text):
    for n in (1, 3, 5):
        hashes = shingle_hashes(text, n)
        expected = python_ngrams(text, n)
        assert len(np.unique(hashes)) == len(expected)
        # equal n-grams hash equally wherever they occur
        if len(text) >= n:
            windows = [text[i : i + n] for i in range(len(text) - n + 1)]
            by_gram: dict[str, set[int]] = {}
            for gram, h in zip(windows, hashes.tolist(), strict=True):
                by_gram.setdefault(gram, set()).add(h)
            assert all(len(v) == 1 for v in by_gram.values())


def test_char_ngram_jaccard_equals_python_jaccard():
    rng = random.Random(3)
    vocab = make_vocabulary(rng, 500)
    a = " ".join(random_words(rng, vocab, 120))
    b = " ".join(mutate(rng, vocab, a.split(), 0.05))
    sa, sb = python_ngrams(a, 8), python_ngrams(b, 8)
    assert char_ngram_jaccard(a, b, 8) == pytest.approx(len(sa & sb) / len(sa | sb))
    assert char_ngram_jaccard("", "", 8) == 1.0
    assert char_ngram_jaccard("abc", "", 8) == 0.0


def test_minhash_estimates_true_jaccard():
    rng = random.Random(11)
    vocab = make_vocabulary(rng, 3000)
    hasher = MinHasher(num_perm=256, char_ngrams=5, seed=42)
    errors = []
    for fraction in (0.02, 0.05, 0.1, 0.2, 0.4, 0.7):
        for _ in range(5):
            words = random_words(rng, vocab, 200)
            a, b = " ".join(words), " ".join(mutate(rng, vocab, words, fraction))
            true = char_ngram_jaccard(a, b, 5)
            est = estimate_jaccard(hasher.signature(a), hasher.signature(b))
            errors.append(est - true)
            assert abs(est - true) < 0.12, (fraction, true, est)
    errors = np.array(errors)
    assert abs(errors.mean()) < 0.02  # unbiased
    assert errors.std() < 0.05  # about sqrt(J(1-J)/256) <= 0.031


def test_minhash_is_seeded_and_deterministic():
    texts = ["the quick brown fox jumps over the lazy dog", "x" * 50]
    a = MinHasher(num_perm=64, char_ngrams=4, seed=1).signatures(texts)
    b = MinHasher(num_perm=64, char_ngrams=4, seed=1).signatures(texts)
    c = MinHasher(num_perm=64, char_ngrams=4, seed=2).signatures(texts)
    assert a.dtype == np.uint32 and a.shape == (2, 64)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_minhash_of_long_text_and_empty_text():
    hasher = MinHasher(num_perm=32, char_ngrams=3, seed=0)
    long_text = "".join(chr(97 + (i * 7919) % 26) for i in range(20_000))  # > one chunk of shingles
    full = hasher.signature(long_text)
    expected = hasher.signature_of_hashes(np.unique(shingle_hashes(long_text, 3)))
    assert np.array_equal(full, expected)
    assert np.all(hasher.signature("") == EMPTY_SIGNATURE_VALUE)
    # a short text is one shingle, not empty
    assert not np.all(hasher.signature("ab") == EMPTY_SIGNATURE_VALUE)


def test_minhash_stage_output_columns():
    table = pa.table({"id": ["a", "b"], "text": ["some text here", ""], "extra": [1, 2]})
    task = DocumentBatch(task_id="t", dataset_name="d", data=table)
    out = InMemoryMinHashStage(id_field="id", num_perm=20, char_ngrams=3).process(task)
    assert out.get_columns() == ["id", "_minhash_signature"]
    sigs = signatures_from_arrow(out.data.column("_minhash_signature"), 20)
    assert sigs.shape == (2, 20)
    kept = InMemoryMinHashStage(id_field="id", num_perm=20, char_ngrams=3, keep_text=True).process(task)
    assert kept.get_columns() == ["id", "text", "_minhash_signature"]
    null_ids = DocumentBatch(task_id="t", dataset_name="d", data=pa.table({"id": [None, "b"], "text": ["x", "y"]}))
    with pytest.raises(StageInputError, match="without an id"):
        InMemoryMinHashStage(id_field="id").process(null_ids)


@pytest.mark.parametrize("threshold", [0.5, 0.7, 0.8, 0.9])
def test_optimal_param_centres_the_s_curve_on_the_threshold(threshold):
    bands, rows = optimal_param(threshold, 128)
    assert bands * rows <= 128
    # candidates well below the threshold are unlikely, well above it likely
    assert candidate_probability(threshold - 0.25, bands, rows) < 0.2
    assert candidate_probability(min(threshold + 0.1, 0.99), bands, rows) > 0.8


def test_optimal_param_weights_shift_the_choice():
    fp_heavy = optimal_param(0.8, 200, 0.9, 0.1)
    fn_heavy = optimal_param(0.8, 200, 0.1, 0.9)
    assert candidate_probability(0.8, *fp_heavy) < candidate_probability(0.8, *fn_heavy)


def test_resolve_lsh_params():
    assert resolve_lsh_params(20, 13) == (20, 13)
    assert resolve_lsh_params(num_bands=10, num_perm=100) == (10, 10)
    assert resolve_lsh_params(minhashes_per_band=5, num_perm=100) == (20, 5)
    assert resolve_lsh_params(num_perm=128, threshold=0.8) == optimal_param(0.8, 128)
    with pytest.raises(ValueError, match="differs"):
        resolve_lsh_params(20, 13, num_perm=100)
    with pytest.raises(ValueError):
        resolve_lsh_params()
    with pytest.raises(ValueError, match="threshold"):
        optimal_param(1.5, 100)


def test_band_bucket_ids_equal_exactly_when_the_band_is_equal():
    rng = np.random.default_rng(0)
    sigs = rng.integers(0, 2**32, (3, 12), dtype=np.uint64).astype(np.uint32)
    sigs[1, :4] = sigs[0, :4]  # rows 0 and 1 share band 0 only
    sigs[2] = sigs[0]
    sigs[2, 11] ^= 1  # row 2 differs from row 0 in band 2 only
    buckets = band_bucket_ids(sigs, 3, 4)
    assert buckets.shape == (3, 3) and buckets.dtype == np.uint64
    assert buckets[0, 0] == buckets[1, 0] and buckets[0, 1] != buckets[1, 1]
    assert buckets[0, 0] == buckets[2, 0] and buckets[0, 1] == buckets[2, 1] and buckets[0, 2] != buckets[2, 2]
    # the same band values in different bands give different buckets
    same = np.zeros((1, 8), dtype=np.uint32)
    b = band_bucket_ids(same, 2, 4)
    assert b[0, 0] != b[0, 1]


def test_lsh_stage_emits_bucket_rows_and_document_rows():
    table = pa.table({"id": ["a", "b", "c"], "text": ["some text here", "", "other text"]})
    task = DocumentBatch(task_id="t", dataset_name="d", data=table)
    signed = InMemoryMinHashStage(id_field="id", num_perm=12, char_ngrams=3, keep_text=True).process(task)
    out = InMemoryLSHStage(num_bands=4, minhashes_per_band=3, id_field="id", text_field="text").process(signed).data
    kinds = out.column(ROW_KIND_FIELD).to_pylist()
    assert kinds.count(KIND_DOCUMENT) == 2  # the empty text has no shingles: left out
    assert kinds.count(KIND_BUCKET) == 8
    bucket_ids = out.filter(pa.array([k == KIND_BUCKET for k in kinds])).column("id").to_pylist()
    assert sorted(bucket_ids) == ["a"] * 4 + ["c"] * 4
    assert out.filter(pa.array([k == KIND_DOCUMENT for k in kinds])).column(BUCKET_FIELD).null_count == 2
    only_buckets = InMemoryLSHStage(num_bands=4, minhashes_per_band=3, id_field="id").process(signed).data
    assert set(only_buckets.column(ROW_KIND_FIELD).to_pylist()) == {KIND_BUCKET}
    assert "text" not in only_buckets.column_names


def test_shingle_set_sorted_unique():
    s = shingle_set("abcabcabc", 3)
    assert len(s) == 3 and np.all(np.diff(s.astype(np.float64)) > 0)
