"""Unit tests: exact hashing and identification, buckets, verification, components, removal."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from raycurator.backends.local import LocalExecutor
from raycurator.errors import StageExecutionError, StageInputError
from raycurator.stages.deduplication.common import DUPLICATE_OF_FIELD
from raycurator.stages.deduplication.exact.hashing import (
    ExactDuplicateHashStage,
    exact_text_hash,
    normalize_for_exact_match,
)
from raycurator.stages.deduplication.exact.identify import ExactDuplicateIdsStage, duplicates_by_key
from raycurator.stages.deduplication.fuzzy.buckets import bucket_pair_positions, buckets_to_pairs
from raycurator.stages.deduplication.fuzzy.connected_components import (
    InMemoryConnectedComponentsStage,
    component_labels,
    duplicates_from_edges,
)
from raycurator.stages.deduplication.fuzzy.jaccard import CandidatePairTextJoin, JaccardVerificationStage
from raycurator.stages.deduplication.fuzzy.rows import (
    BUCKET_FIELD,
    KIND_DOCUMENT,
    KIND_PAIR,
    PAIR_ID_FIELD,
    ROW_KIND_FIELD,
)
from raycurator.stages.deduplication.removal import TextDuplicatesRemovalStage
from raycurator.stages.shuffle import ShuffleStage
from raycurator.tasks import DocumentBatch


def batch(table: pa.Table, task_id: str = "t") -> DocumentBatch:
    return DocumentBatch(task_id=task_id, dataset_name="d", data=table)


# -- exact -------------------------------------------------------------------------------------
def test_normalisation_nfc_and_whitespace():
    assert normalize_for_exact_match("  a\tb \n\n c  ") == "a b c"
    assert normalize_for_exact_match("e\u0301") == "\u00e9"  # NFC
    assert exact_text_hash("Caf\u00e9  ok") == exact_text_hash("Cafe\u0301 ok\n")
    assert exact_text_hash("A") != exact_text_hash("a")  # case kept
    assert len(exact_text_hash("")) == 32


def test_hash_stage_keeps_selected_columns_and_nulls_count_as_empty():
    table = pa.table({"id": [1, 2, 3], "text": ["x", None, ""], "meta": ["m", "n", "o"]})
    out = ExactDuplicateHashStage(keep_columns=["id"]).process(batch(table)).data
    assert out.column_names == ["id", "_exact_hash"]
    hashes = out.column("_exact_hash").to_pylist()
    assert hashes[1] == hashes[2] != hashes[0]
    with pytest.raises(StageInputError, match="lacks column"):
        ExactDuplicateHashStage(text_field="body").process(batch(table))
    with_null_id = pa.table({"id": [1, None], "text": ["a", "b"]})
    with pytest.raises(StageInputError, match="without an id"):
        ExactDuplicateHashStage(keep_columns=["id"]).process(batch(with_null_id))


def test_duplicates_by_key_keeps_smallest_id():
    table = pa.table({"h": ["x", "y", "x", "x", "z", "y"], "id": [5, 2, 3, 9, 1, 7]})
    dups = duplicates_by_key(table, "h", "id").to_pydict()
    assert dups == {"id": [5, 7, 9], DUPLICATE_OF_FIELD: [3, 2, 3]}
    with pytest.raises(StageInputError, match="more than once"):
        duplicates_by_key(pa.table({"h": ["x", "x"], "id": [1, 1]}), "h", "id")


@pytest.mark.parametrize("num_partitions", [None, 1, 3])
def test_exact_identification_is_partition_independent(num_partitions):
    texts = ["a b", "c", "a  b", "d", "c", "a b\n", "e"]
    tasks = [
        batch(pa.table({"id": [f"{k}-{i}" for i in range(len(part))], "text": part}), task_id=f"t{k}")
        for k, part in enumerate([texts[:3], texts[3:5], texts[5:]])
    ]
    stages = [
        ExactDuplicateHashStage(keep_columns=["id"]),
        ExactDuplicateIdsStage(id_field="id", num_partitions=num_partitions),
    ]
    out = LocalExecutor().execute(stages, tasks)
    dups = pa.concat_tables([t.data for t in out]).sort_by("id").to_pydict()
    assert dups == {"id": ["0-2", "1-1", "2-0"], DUPLICATE_OF_FIELD: ["0-0", "0-1", "0-0"]}


def test_exact_identification_declares_a_shuffle():
    stage = ExactDuplicateIdsStage()
    assert stage.is_barrier and isinstance(stage, ShuffleStage)


# -- buckets -----------------------------------------------------------------------------------------
def test_bucket_pair_positions_small_and_large_buckets():
    sizes = np.array([1, 2, 3, 5])
    starts = np.array([0, 1, 3, 6])
    left, right = bucket_pair_positions(sizes, starts, all_pairs_max_size=3, num_anchors=2)
    pairs = set(zip(left.tolist(), right.tolist(), strict=True))
    assert pairs == {
        (1, 2),  # size 2
        (3, 4), (3, 5), (4, 5),  # size 3: all pairs
        (6, 7), (6, 8), (6, 9), (6, 10), (7, 8), (7, 9), (7, 10),  # size 5: two anchors
    }


def test_buckets_to_pairs_distinct_and_ordered():
    table = pa.table(
        {
            "id": ["c", "a", "b", "a", "c", "d"],
            BUCKET_FIELD: pa.array([7, 7, 9, 9, 9, 4], type=pa.uint64()),
        }
    )
    pairs = buckets_to_pairs(table, "id").to_pydict()
    got = sorted(zip(pairs["id"], pairs[PAIR_ID_FIELD], strict=True))
    assert got == [("a", "b"), ("a", "c"), ("b", "c")]


# -- verification ------------------------------------------------------------------------------
def test_jaccard_verification_drops_false_candidates():
    base = " ".join(f"word{i}" for i in range(200))
    near = base.replace("word50 ", "other ", 1)
    far = " ".join(f"thing{i}" for i in range(200))
    docs = pa.table(
        {
            ROW_KIND_FIELD: pa.array([KIND_DOCUMENT] * 3, type=pa.int8()),
            "id": ["a", "b", "c"],
            PAIR_ID_FIELD: pa.nulls(3, type=pa.string()),
            "text": [base, near, far],
        }
    )
    pairs = pa.table(
        {
            ROW_KIND_FIELD: pa.array([KIND_PAIR] * 3, type=pa.int8()),
            "id": ["a", "a", "a"],
            PAIR_ID_FIELD: ["b", "c", "b"],  # (a, b) twice: counted once
            "text": pa.nulls(3, type=pa.string()),
        }
    )
    stages = [
        CandidatePairTextJoin(id_field="id", num_partitions=2),
        JaccardVerificationStage(id_field="id", char_ngrams=5, jaccard_threshold=0.8, num_partitions=3),
    ]
    out = LocalExecutor().execute(stages, [batch(docs, "docs"), batch(pairs, "pairs")])
    verified = pa.concat_tables([t.data for t in out]).to_pydict()
    assert verified["id"] == ["a"] and verified[PAIR_ID_FIELD] == ["b"]
    assert 0.8 <= verified["_jaccard"][0] < 1.0


# -- connected components --------------------------------------------------------------------------
def test_component_labels():
    labels = component_labels(np.array([0, 1, 3]), np.array([1, 2, 4]), 6)
    assert labels[0] == labels[1] == labels[2]
    assert labels[3] == labels[4] != labels[0]
    assert len(set(labels.tolist())) == 3


def test_duplicates_from_edges_keep_smallest_id_per_component():
    edges = pa.table({"id": ["d", "b", "x", "e"], PAIR_ID_FIELD: ["e", "c", "y", "c"]})
    dups = duplicates_from_edges(edges, "id").to_pydict()
    assert dups == {
        "id": ["c", "d", "e", "y"],
        DUPLICATE_OF_FIELD: ["b", "b", "b", "x"],
    }


def test_connected_components_stage_is_a_barrier_and_chunks_output():
    stage = InMemoryConnectedComponentsStage(id_field="id", rows_per_output=2)
    assert stage.is_barrier
    tasks = [
        batch(pa.table({"id": [1, 10], PAIR_ID_FIELD: [2, 11]}), "a"),
        batch(pa.table({"id": [2, 12], PAIR_ID_FIELD: [3, 11]}), "b"),
    ]
    out = LocalExecutor().execute([stage], tasks)
    assert [t.num_items for t in out] == [2, 2]
    dups = pa.concat_tables([t.data for t in out]).to_pydict()
    assert dups == {"id": [2, 3, 11, 12], DUPLICATE_OF_FIELD: [1, 1, 10, 10]}
    assert LocalExecutor().execute([stage], []) == []


# -- removal -------------------------------------------------------------------------------------------
def test_removal_from_parquet_directory(tmp_path):
    ids_dir = tmp_path / "ids"
    ids_dir.mkdir()
    pq.write_table(pa.table({"_curator_dedup_id": ["b"]}), ids_dir / "part-0.parquet")
    pq.write_table(pa.table({"_curator_dedup_id": ["d", "b"]}), ids_dir / "part-1.parquet")
    table = pa.table({"_curator_dedup_id": ["a", "b", "c", "d"], "text": ["1", "2", "3", "4"]})
    stage = TextDuplicatesRemovalStage(str(ids_dir))
    out = LocalExecutor().execute([stage], [batch(table)])
    assert out[0].data.column("text").to_pylist() == ["1", "3"]


def test_removal_with_given_ids_casts_and_drops_id_column():
    table = pa.table({"doc": pa.array([1, 2, 3], type=pa.int64()), "text": ["1", "2", "3"]})
    stage = TextDuplicatesRemovalStage(ids_to_remove=pa.array([2], type=pa.int32()), id_field="doc",
                                       drop_id_field=True)
    out = stage.process(batch(table)).data
    assert out.to_pydict() == {"text": ["1", "3"]}
    nothing = TextDuplicatesRemovalStage(ids_to_remove=[], id_field="doc").process(batch(table))
    assert nothing.num_items == 3


def test_removal_errors_name_the_problem(tmp_path):
    with pytest.raises(ValueError, match="needs ids_to_remove_path"):
        TextDuplicatesRemovalStage()
    stage = TextDuplicatesRemovalStage(str(tmp_path / "missing"))
    with pytest.raises((FileNotFoundError, StageExecutionError), match=r"TextDuplicatesRemovalStage.*does not exist"):
        LocalExecutor().execute([stage], [batch(pa.table({"_curator_dedup_id": ["a"]}))])
    stage = TextDuplicatesRemovalStage(ids_to_remove=["a"], id_field="doc")
    with pytest.raises(StageInputError, match="lacks column"):
        stage.process(batch(pa.table({"id": ["a"]})))
