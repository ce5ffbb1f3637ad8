"""Deduplication names at NeMo Curator 1.4's paths, on CPUs, without Ray: the id generator's
bookkeeping, DeduplicationIO, IdentifyDuplicatesStage, BucketsToEdgesStage, CPUMinHash,
ShuffleStage's NeMo parameters and ExactDuplicateIdentification's checks and outputs."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from raycurator.backends.local import LocalExecutor
from raycurator.pipeline import Pipeline
from raycurator.stages.deduplication.exact.identification import ExactDuplicateIdentification
from raycurator.stages.deduplication.fuzzy.buckets_to_edges import BucketsToEdgesStage
from raycurator.stages.deduplication.fuzzy.identify_duplicates import DUPLICATE_IDS_SUBDIR, IdentifyDuplicatesStage
from raycurator.stages.deduplication.fuzzy.lsh.stage import LSHStage
from raycurator.stages.deduplication.fuzzy.minhash import CPUMinHash, MinHash, MinHasher
from raycurator.stages.deduplication.fuzzy.utils import (
    CURATOR_DEFAULT_MINHASH_FIELD,
    CURATOR_FUZZY_DUPLICATE_GROUP_FIELD,
    CURATOR_LSH_BUCKET_FIELD,
)
from raycurator.stages.deduplication.id_generator import CURATOR_DEDUP_ID_STR, IdGeneratorBase
from raycurator.stages.deduplication.io_utils import DeduplicationIO
from raycurator.stages.deduplication.shuffle_utils.stage import ShuffleStage
from raycurator.stages.file_partitioning import FilePartitioningStage
from raycurator.tasks import DocumentBatch


def test_id_generator_reserves_one_range_per_file_group(tmp_path):
    generator = IdGeneratorBase()
    assert generator.register_batch(["a", "b"], 3) == 0
    assert generator.register_batch("c", 2) == 3
    assert generator.register_batch(["a", "b"], 3) == 0
    assert generator.get_batch_range("c", None) == (3, 4)
    assert generator.get_batch_range(None, generator.hash_files(["a", "b"])) == (0, 2)
    generator.to_disk(str(tmp_path / "state.json"))
    saved = json.loads((tmp_path / "state.json").read_text())
    assert saved["next_id"] == 5 and len(saved["batch_registry"]) == 2
    assert IdGeneratorBase.from_disk(str(tmp_path / "state.json")).register_batch("d", 1) == 5
    (tmp_path / "bad.json").write_text("[]")
    with pytest.raises(ValueError, match="next_id"):
        IdGeneratorBase.from_disk(str(tmp_path / "bad.json"))


class Reader(DeduplicationIO):
    pass


def test_deduplication_io_reads_assigns_ids_and_writes_atomically(tmp_path):
    (tmp_path / "a.jsonl").write_text('{"text": "x", "n": 1}\n{"text": "y", "n": 2}\n')
    generator = IdGeneratorBase(start_id=100)
    io = Reader(id_generator=generator)
    frame = io.read_jsonl(str(tmp_path / "a.jsonl"), columns=["text"], assign_id=True)
    assert list(frame.columns) == ["text", CURATOR_DEDUP_ID_STR]
    assert frame[CURATOR_DEDUP_ID_STR].tolist() == [100, 101]
    again = io.read_jsonl(str(tmp_path / "a.jsonl"), assign_id=True)  # the same file, the same ids
    assert again[CURATOR_DEDUP_ID_STR].tolist() == [100, 101]
    io.write_parquet(frame, str(tmp_path / "out" / "part.parquet"))
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["part.parquet"]  # no temporary left
    back = io.read_parquet(str(tmp_path / "out" / "part.parquet"), assign_id=True)
    assert back[CURATOR_DEDUP_ID_STR].tolist() == [100, 101]  # present ids are kept
    assert io.custom_read(str(tmp_path / "a.jsonl"), lambda p: pd.read_json(p, lines=True))["n"].tolist() == [1, 2]
    with pytest.raises(ValueError, match="id generator is needed"):
        Reader(id_generator=None).assign_id("x", pd.DataFrame({"text": ["a"]}))


def test_identify_duplicates_keeps_the_smallest_id_of_each_group():
    table = pa.table(
        {
            CURATOR_DEDUP_ID_STR: [5, 3, 9, 1, 7, 2],
            CURATOR_FUZZY_DUPLICATE_GROUP_FIELD: [10, 10, 10, 20, 20, 30],
        }
    )
    tasks = [DocumentBatch("p0", "d", table.slice(0, 3)), DocumentBatch("p1", "d", table.slice(3))]
    out = Pipeline("p", stages=[IdentifyDuplicatesStage(total_nparts=2)]).run(LocalExecutor(), initial_tasks=tasks)
    removal = pa.concat_tables([t.to_pyarrow() for t in out]).sort_by(CURATOR_DEDUP_ID_STR)
    assert removal.column(CURATOR_DEDUP_ID_STR).to_pylist() == [5, 7, 9]
    assert removal.column("_duplicate_of").to_pylist() == [3, 1, 3]
    assert DUPLICATE_IDS_SUBDIR == "FuzzyDuplicateIds"


def test_fuzzy_constants_name_the_columns_the_stages_use():
    assert CURATOR_DEFAULT_MINHASH_FIELD == "_minhash_signature"
    assert CURATOR_LSH_BUCKET_FIELD == "_bucket_id"
    assert LSHStage(num_bands=4, minhashes_per_band=2).outputs()[1][-1] == CURATOR_LSH_BUCKET_FIELD


def test_cpu_minhash_implements_nemos_interface():
    hasher = CPUMinHash(seed=7, num_hashes=16, char_ngrams=5)
    assert isinstance(hasher, MinHash)
    texts = pd.Series(["the same text here", "the same text here", None], index=[4, 5, 6])
    signatures = hasher.compute_minhashes(texts)
    assert list(signatures.index) == [4, 5, 6] and len(signatures.iloc[0]) == 16
    assert np.array_equal(signatures.iloc[0], signatures.iloc[1])
    assert np.array_equal(signatures.iloc[0], MinHasher(num_perm=16, char_ngrams=5, seed=7).signature(texts[4]))
    with pytest.raises(ValueError, match="use_64bit_hash"):
        CPUMinHash(use_64bit_hash=True)
    with pytest.raises(NotImplementedError):
        hasher.generate_seeds()


def test_buckets_to_edges_takes_nemos_parameter_name():
    stage = BucketsToEdgesStage(document_id_field="doc")
    assert stage.id_field == "doc" and stage.name == "BucketsToEdgesStage" and "doc" in stage.inputs()[1]


def test_shuffle_stage_takes_nemos_parameters():
    stage = ShuffleStage(shuffle_on=["k"], total_nparts=3)
    assert (stage.key_columns, stage.num_partitions) == (["k"], 3)
    tasks = [DocumentBatch(f"t{i}", "d", pa.table({"k": [i % 2, 2], "v": [i, i]})) for i in range(4)]
    out = stage.process_batch(tasks)
    assert sum(t.num_items for t in out) == 8
    for task in out:  # equal keys meet in one partition
        keys = set(task.to_pyarrow().column("k").to_pylist())
        assert all(k not in set(o.to_pyarrow().column("k").to_pylist()) for o in out if o is not task for k in keys)
    with pytest.raises(ValueError, match="not both"):
        ShuffleStage("k", shuffle_on=["k"])
    with pytest.raises(ValueError, match="key columns"):
        ShuffleStage()


def test_exact_identification_checks_its_id_options_and_writes_parquet(tmp_path):
    with pytest.raises(ValueError, match="id_field must be given"):
        ExactDuplicateIdentification(text_field="text", output_path=str(tmp_path), assign_id=False)
    with pytest.raises(ValueError, match="id_field must be None"):
        ExactDuplicateIdentification(text_field="text", output_path=str(tmp_path), id_field="id")
    data = tmp_path / "in"
    data.mkdir()
    pq.write_table(pa.table({"id": [1, 2, 3], "text": ["a b", "a  b", "c"]}), data / "x.parquet")
    for normalize, expected in ((False, []), (True, [2])):
        out = tmp_path / f"out-{normalize}"
        stage = ExactDuplicateIdentification(
            text_field="text", output_path=str(out), assign_id=False, id_field="id", normalize_text=normalize
        )
        Pipeline("p", stages=[FilePartitioningStage(str(data)), stage]).run(LocalExecutor())
        files = sorted((out / "ExactDuplicateIdentification").glob("*.parquet"))
        assert sorted(i for f in files for i in pq.read_table(f).column("id").to_pylist()) == expected
