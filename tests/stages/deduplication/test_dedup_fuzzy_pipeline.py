"""The fuzzy-dedup stage chain on generated corpora with injected near duplicates (LocalExecutor)."""

from __future__ import annotations

import itertools
import logging

import pyarrow as pa
import pytest
from dedup_corpus import Corpus, make_corpus

from raycurator.backends.local import LocalExecutor
from raycurator.stages.deduplication.common import DUPLICATE_OF_FIELD
from raycurator.stages.deduplication.fuzzy.shingles import char_ngram_jaccard
from raycurator.stages.deduplication.fuzzy.workflow import FuzzyDeduplicationWorkflow

logger = logging.getLogger(__name__)


@pytest.fixture(scope="module")
def corpus() -> Corpus:
    return make_corpus(num_originals=300, words_per_doc=300, num_exact=30, num_near=120, num_partial=30)


def fuzzy_duplicates(corpus: Corpus, num_batches: int = 4, **options) -> pa.Table:
    workflow = FuzzyDeduplicationWorkflow("unused", "unused", id_field="id", **options)
    out = LocalExecutor().execute(workflow.signature_stages(), corpus.batches(num_batches))
    if not out:
        return pa.table({"id": pa.array([], pa.string()), DUPLICATE_OF_FIELD: pa.array([], pa.string())})
    return pa.concat_tables([t.data for t in out])


def components(duplicates: pa.Table) -> dict[str, str]:
    """doc id -> kept id of its component (documents in no component map to themselves)."""
    return dict(zip(duplicates.column("id").to_pylist(), duplicates.column(DUPLICATE_OF_FIELD).to_pylist(),
                    strict=True))


@pytest.mark.parametrize("verify", [True, False])
def test_fuzzy_recall_and_no_false_merges(corpus, verify):
    dups = fuzzy_duplicates(corpus, verify=verify)
    kept = components(dups)
    rep = lambda doc: kept.get(doc, doc)  # noqa: E731
    text = dict(zip(corpus.ids, corpus.texts, strict=True))

    found = sum(rep(a) == rep(b) for a, b in corpus.near_pairs)
    recall = found / len(corpus.near_pairs)
    jaccards = [char_ngram_jaccard(text[a], text[b], 24) for a, b in corpus.near_pairs]
    logger.info("near-duplicate recall %.3f (pair Jaccard %.3f..%.3f)", recall, min(jaccards), max(jaccards))
    assert min(jaccards) > 0.8
    assert recall >= 0.95
    # every exact copy is a (trivial) near duplicate too
    assert all(rep(copy) == rep(orig) for copy, orig in corpus.exact_copies.items())
    # half-overlap documents (Jaccard about 1/3) are never merged with their source
    assert not any(rep(a) == rep(b) for a, b in corpus.partial_pairs)
    # no component holds two documents whose Jaccard is below 0.5
    members: dict[str, list[str]] = {}
    for doc, root in kept.items():
        members.setdefault(root, [root]).append(doc)
    for group in members.values():
        for a, b in itertools.combinations(group, 2):
            assert char_ngram_jaccard(text[a], text[b], 24) >= 0.5, (a, b)
    # the kept document is the smallest id of its component
    assert all(root == min(group) for root, group in members.items())
    # each component keeps exactly one document
    assert len(dups) == sum(len(g) - 1 for g in members.values())


def test_fuzzy_results_identical_across_runs_and_partitionings(corpus):
    first = fuzzy_duplicates(corpus, num_batches=4)
    second = fuzzy_duplicates(corpus, num_batches=4)
    other = fuzzy_duplicates(corpus, num_batches=7, lsh_num_output_partitions=3)
    assert first.equals(second)
    assert first.equals(other)
    assert first.num_rows > 0


def test_verification_rejects_what_lsh_alone_lets_through():
    # a loose LSH (many bands of one row) makes nearly everything a candidate
    corpus = make_corpus(num_originals=40, words_per_doc=80, num_exact=0, num_near=0, num_partial=10)
    loose = {"num_bands": 60, "minhashes_per_band": 1, "char_ngrams": 5}
    unverified = fuzzy_duplicates(corpus, verify=False, **loose)
    verified = fuzzy_duplicates(corpus, verify=True, **loose)
    assert unverified.num_rows > 0
    assert verified.num_rows == 0


def test_empty_texts_are_left_to_exact_dedup():
    table = pa.table({"id": ["a", "b", "c"], "text": ["", "", "some words here and there"]})
    corpus = Corpus(ids=table.column("id").to_pylist(), texts=table.column("text").to_pylist())
    assert fuzzy_duplicates(corpus, num_batches=1).num_rows == 0


def test_workflow_lsh_parameter_names():
    w = FuzzyDeduplicationWorkflow("in", "out")
    assert (w.num_bands, w.minhashes_per_band, w.num_perm) == (20, 13, 260)
    assert (w.bands, w.rows, w.threshold) == (20, 13, 0.8)
    w = FuzzyDeduplicationWorkflow("in", "out", bands=16, rows=8)
    assert (w.num_bands, w.minhashes_per_band, w.num_perm) == (16, 8, 128)
    w = FuzzyDeduplicationWorkflow("in", "out", num_perm=128, threshold=0.7)
    from raycurator.stages.deduplication.fuzzy.lsh import optimal_param

    assert (w.num_bands, w.minhashes_per_band) == optimal_param(0.7, 128)
    assert w.jaccard_threshold == 0.7
    w = FuzzyDeduplicationWorkflow("in", "out", num_perm=120, num_bands=10)
    assert (w.num_bands, w.minhashes_per_band) == (10, 12)
    with pytest.raises(ValueError, match="disagree"):
        FuzzyDeduplicationWorkflow("in", "out", num_bands=10, bands=12)
    with pytest.raises(ValueError, match="differs"):
        FuzzyDeduplicationWorkflow("in", "out", num_bands=10, minhashes_per_band=10, num_perm=128)
    with pytest.raises(ValueError, match="input_filetype"):
        FuzzyDeduplicationWorkflow("in", "out", input_filetype="csv")
