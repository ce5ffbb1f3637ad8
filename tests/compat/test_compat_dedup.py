"""Deduplication names at NeMo Curator 1.4's paths, on CPUs, without Ray: the id generator's
bookkeeping, DeduplicationIO, the file-based IdentifyDuplicatesStage, BucketsToEdgesStage,
ConnectedComponentsStage and ShuffleStage, CPUMinHash, and ExactDuplicateIdentification's checks
and outputs."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from raycurator.backends.local import LocalExecutor
from raycurator.errors import StageInputError
from raycurator.pipeline import Pipeline
from raycurator.stages.deduplication.exact.identification import ExactDuplicateIdentification
from raycurator.stages.deduplication.fuzzy.buckets_to_edges import BucketsToEdgesStage
from raycurator.stages.deduplication.fuzzy.connected_components import ConnectedComponentsStage
from raycurator.stages.deduplication.fuzzy.identify_duplicates import DUPLICATE_IDS_SUBDIR, IdentifyDuplicatesStage
from raycurator.stages.deduplication.fuzzy.lsh.stage import LSHStage
from raycurator.stages.deduplication.fuzzy.minhash import CPUMinHash, MinHash, MinHasher, MinHashStage
from raycurator.stages.deduplication.fuzzy.utils import (
    CURATOR_DEFAULT_MINHASH_FIELD,
    CURATOR_FUZZY_DUPLICATE_GROUP_FIELD,
    CURATOR_LSH_BUCKET_FIELD,
)
from raycurator.stages.deduplication.id_generator import CURATOR_DEDUP_ID_STR, IdGeneratorBase
from raycurator.stages.deduplication.io_utils import DeduplicationIO
from raycurator.stages.deduplication.shuffle_utils.stage import ShuffleStage
from raycurator.stages.file_partitioning import FilePartitioningStage
from raycurator.tasks import DocumentBatch, FileGroupTask


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


def _file_task(path, table, task_id: str) -> FileGroupTask:
    pq.write_table(table, path)
    return FileGroupTask(task_id=task_id, dataset_name="d", data=[str(path)])


def test_identify_duplicates_keeps_the_smallest_id_of_each_group(tmp_path):
    table = pa.table(
        {
            CURATOR_DEDUP_ID_STR: [5, 3, 9, 1, 7, 2],
            CURATOR_FUZZY_DUPLICATE_GROUP_FIELD: [10, 10, 10, 20, 20, 30],
        }
    )
    tasks = [
        _file_task(tmp_path / "a.parquet", table.slice(0, 3), "p0"),
        _file_task(tmp_path / "b.parquet", table.slice(3), "p1"),
    ]
    (tmp_path / "out" / DUPLICATE_IDS_SUBDIR).mkdir(parents=True)
    (tmp_path / "out" / DUPLICATE_IDS_SUBDIR / "stale.parquet").write_text("old")  # emptied when the stage is built
    stage = IdentifyDuplicatesStage(total_nparts=2, output_path=str(tmp_path / "out"))
    assert stage.name == "IdentifyDuplicates"
    out = Pipeline("p", stages=[stage]).run(LocalExecutor(), initial_tasks=tasks)
    files = sorted(p.name for p in (tmp_path / "out" / DUPLICATE_IDS_SUBDIR).iterdir())
    assert files == ["part.0.parquet", "part.1.parquet"]  # one per partition, empty or not
    folder = tmp_path / "out" / DUPLICATE_IDS_SUBDIR
    assert sorted(f for t in out for f in t.data) == [str(folder / f) for f in files]
    removal = pa.concat_tables([pq.read_table(f) for t in out for f in t.data])
    assert removal.column_names == [CURATOR_DEDUP_ID_STR]
    assert sorted(removal.column(CURATOR_DEDUP_ID_STR).to_pylist()) == [5, 7, 9]
    assert sum(t._metadata["num_removal_ids"] for t in out) == 3 and sum(t._metadata["num_groups"] for t in out) == 3
    assert DUPLICATE_IDS_SUBDIR == "FuzzyDuplicateIds"


def test_fuzzy_constants_name_the_columns_the_stages_use():
    assert CURATOR_DEFAULT_MINHASH_FIELD == "_minhash_signature"
    assert CURATOR_LSH_BUCKET_FIELD == "_bucket_id"
    assert CURATOR_FUZZY_DUPLICATE_GROUP_FIELD == "_duplicate_group_id"


def test_cpu_minhash_implements_nemos_interface():
    hasher = CPUMinHash(seed=7, num_hashes=16, char_ngrams=5)
    assert isinstance(hasher, MinHash)
    texts = pd.Series(["the same text here", "the same text here", None], index=[4, 5, 6])
    signatures = hasher.compute_minhashes(texts)
    assert list(signatures.index) == [4, 5, 6] and len(signatures.iloc[0]) == 16
    assert np.array_equal(signatures.iloc[0], signatures.iloc[1])
    assert np.array_equal(signatures.iloc[0], MinHasher(num_perm=16, char_ngrams=5, seed=7).signature(texts[4]))
    wide = CPUMinHash(seed=7, num_hashes=16, char_ngrams=5, use_64bit_hash=True).compute_minhashes(texts)
    assert wide.iloc[0].dtype == np.uint64 and np.array_equal(wide.iloc[0], wide.iloc[1])
    assert not np.array_equal(wide.iloc[0].astype(np.uint32), signatures.iloc[0])
    with pytest.raises(NotImplementedError):
        hasher.generate_seeds()


def test_buckets_to_edges_links_consecutive_members_of_each_bucket(tmp_path):
    buckets = pa.table({CURATOR_LSH_BUCKET_FIELD: ["b0_a", "b1_b", "b1_c"], "doc": [[1, 4, 9], [2, 3], [4, 5, 6, 7]]})
    task = _file_task(tmp_path / "buckets.parquet", buckets, "lsh-part-0")
    stage = BucketsToEdgesStage(output_path=str(tmp_path), document_id_field="doc", read_kwargs={"columns": ["x"]})
    (out,) = Pipeline("p", stages=[stage]).run(LocalExecutor(), initial_tasks=[task])
    assert out.data == [str(tmp_path / "BucketsToEdgesStage" / "lsh-part-0.parquet")]
    edges = pq.read_table(out.data[0])
    assert edges.column_names == ["doc_x", "doc_y"]
    assert list(zip(edges["doc_x"].to_pylist(), edges["doc_y"].to_pylist(), strict=True)) == [
        (1, 4), (4, 9), (2, 3), (4, 5), (5, 6), (6, 7)
    ]
    assert out.dataset_name == "d_edges"


def test_connected_components_writes_each_document_with_its_group(tmp_path):
    edges = [pa.table({"_curator_dedup_id_x": [1, 4, 2], "_curator_dedup_id_y": [4, 9, 3]}),
             pa.table({"_curator_dedup_id_x": [9, 1], "_curator_dedup_id_y": [4, 4]})]  # repeated edges
    tasks = [_file_task(tmp_path / f"e{i}.parquet", t, f"e{i}") for i, t in enumerate(edges)]
    stage = ConnectedComponentsStage(output_path=str(tmp_path))
    (out,) = Pipeline("p", stages=[stage]).run(LocalExecutor(), initial_tasks=tasks)
    table = pq.read_table(out.data[0])
    assert table.column_names == [CURATOR_DEDUP_ID_STR, CURATOR_FUZZY_DUPLICATE_GROUP_FIELD]
    groups = dict(zip(table[CURATOR_DEDUP_ID_STR].to_pylist(), table[CURATOR_FUZZY_DUPLICATE_GROUP_FIELD].to_pylist(),
                      strict=True))
    assert groups == {1: 0, 2: 1, 3: 1, 4: 0, 9: 0} and out._metadata["num_vertices"] == 5
    assert out.data[0].startswith(str(tmp_path / "ConnectedComponentsStage"))


def test_shuffle_stage_takes_nemos_parameters_and_writes_a_file_per_partition(tmp_path):
    tables = [pa.table({"k": [i % 2, 2], "v": [i, i]}) for i in range(4)]
    tasks = [_file_task(tmp_path / f"in{i}.parquet", t, f"t{i}") for i, t in enumerate(tables)]
    stage = ShuffleStage(shuffle_on=["k"], total_nparts=3, output_path=str(tmp_path / "shuffled"))
    out = Pipeline("p", stages=[stage]).run(LocalExecutor(), initial_tasks=tasks)
    assert sorted(p.name for p in (tmp_path / "shuffled").iterdir()) == [f"part.{i}.parquet" for i in range(3)]
    parts = [pq.read_table(t.data[0]) for t in out]
    assert sum(p.num_rows for p in parts) == 8
    keys = [set(p.column("k").to_pylist()) for p in parts]
    assert all(not (a & b) for i, a in enumerate(keys) for b in keys[i + 1 :])  # equal keys meet in one partition
    assert {t._metadata["total_partitions"] for t in out} == {3}
    with pytest.raises(StageInputError, match="reads FileGroupTasks"):
        stage.process_batch([DocumentBatch("x", "d", pa.table({"k": [1]}))])


def test_exact_identification_checks_its_id_options_and_writes_parquet(tmp_path):
    with pytest.raises(ValueError, match="id_field must be given"):
        ExactDuplicateIdentification(text_field="text", output_path=str(tmp_path), assign_id=False)
    with pytest.raises(ValueError, match="id_field must be None"):
        ExactDuplicateIdentification(text_field="text", output_path=str(tmp_path), id_field="id")
    data = tmp_path / "in"
    data.mkdir()
    pq.write_table(pa.table({"id": [1, 2, 3], "text": ["a b", "A  b", "c"]}), data / "x.parquet")
    for normalize, expected in ((False, []), (True, [2])):
        out = tmp_path / f"out-{normalize}"
        stage = ExactDuplicateIdentification(
            text_field="text", output_path=str(out), assign_id=False, id_field="id", normalize_text=normalize
        )
        Pipeline("p", stages=[FilePartitioningStage(str(data)), stage]).run(LocalExecutor())
        files = sorted((out / "ExactDuplicateIds").glob("*.parquet"))
        assert sorted(i for f in files for i in pq.read_table(f).column("id").to_pylist()) == expected


def test_minhash_stage_writes_signature_files(tmp_path):
    (tmp_path / "cache" / "MinHashStage").mkdir(parents=True)
    (tmp_path / "cache" / "MinHashStage" / "old.parquet").write_text("stale")
    stage = MinHashStage(output_path=str(tmp_path / "cache"), char_ngrams=5, num_hashes=16, seed=3, normalize_text=True)
    assert list((tmp_path / "cache" / "MinHashStage").iterdir()) == []  # emptied when built, as NeMo does
    batch = DocumentBatch(
        "b0", "d", pa.table({CURATOR_DEDUP_ID_STR: [7, 8], "text": ["Hello   big WORLD", "hello big world"]})
    )
    out = stage.process(batch)
    assert out.data == [str(tmp_path / "cache" / "MinHashStage" / "b0.parquet")] and out.dataset_name == "d_minhash"
    assert out._metadata["num_hashes"] == 16 and out._metadata["minhash_field"] == CURATOR_DEFAULT_MINHASH_FIELD
    table = pq.read_table(out.data[0])
    assert table.column_names == [CURATOR_DEDUP_ID_STR, CURATOR_DEFAULT_MINHASH_FIELD]
    assert table.schema.field(CURATOR_DEFAULT_MINHASH_FIELD).type == pa.list_(pa.uint32())
    first, second = table.column(CURATOR_DEFAULT_MINHASH_FIELD).to_pylist()
    assert first == second == MinHasher(num_perm=16, char_ngrams=5, seed=3).signature("hello big world").tolist()

    data = tmp_path / "in.jsonl"
    data.write_text('{"text": "one document here"}\n{"text": "another document"}\n')
    files = FileGroupTask("f0", "d", [str(data)])
    with pytest.raises(RuntimeError, match="id generator"):
        stage.process(files)  # no generator: NeMo's error
    stage.id_generator = IdGeneratorBase(start_id=100)
    with pytest.raises(ValueError, match="read_format"):
        stage.process(files)
    stage.read_format = "jsonl"
    ids = pq.read_table(stage.process(files).data[0]).column(CURATOR_DEDUP_ID_STR).to_pylist()
    assert ids == [100, 101]
    with pytest.raises(StageInputError, match="lacks column"):
        stage.process(DocumentBatch("b1", "d", pa.table({"text": ["no ids"]})))


def test_lsh_stage_writes_buckets_per_band_range_and_partition(tmp_path):
    hasher = MinHasher(num_perm=12, char_ngrams=5, seed=1)
    texts = ["the quick brown fox jumps", "the quick brown fox jumps", "a different text entirely", ""]
    tasks = []
    for i, (lo, hi) in enumerate([(0, 2), (2, 3), (3, 4)]):
        signatures = [hasher.signature(t).tolist() for t in texts[lo:hi]]
        table = pa.table({CURATOR_DEDUP_ID_STR: list(range(lo, hi)),
                          CURATOR_DEFAULT_MINHASH_FIELD: pa.array(signatures, pa.list_(pa.uint32()))})
        tasks.append(_file_task(tmp_path / f"m{i}.parquet", table, f"m{i}"))
    with pytest.raises(ValueError, match="bands_per_iteration"):
        LSHStage(num_bands=4, minhashes_per_band=3, output_path=str(tmp_path), bands_per_iteration=5)
    with pytest.raises(ValueError, match="columns"):
        LSHStage(4, 3, output_path=str(tmp_path), read_kwargs={"columns": ["a"]}, bands_per_iteration=2)
    stage = LSHStage(num_bands=4, minhashes_per_band=3, output_path=str(tmp_path / "cache"), bands_per_iteration=3)
    out = Pipeline("p", stages=[stage]).run(LocalExecutor(), initial_tasks=tasks)
    # 3 input tasks: 2 partitions (a power of 2, as NeMo); bands 0-2 and 3 in their own folders
    assert sorted(p.name for p in (tmp_path / "cache" / "LSHStage").iterdir()) == ["band_0-band_3", "band_3-band_4"]
    assert len(out) == 4 and {t._metadata["total_partitions"] for t in out} == {2}
    buckets = pa.concat_tables([pq.read_table(t.data[0]) for t in out])
    assert buckets.column_names == [CURATOR_LSH_BUCKET_FIELD, CURATOR_DEDUP_ID_STR]
    # documents 0 and 1 share every band's bucket; the empty text falls in none
    assert buckets.column(CURATOR_DEDUP_ID_STR).to_pylist() == [[0, 1]] * 4
    assert sorted(b.split("_")[0] for b in buckets.column(CURATOR_LSH_BUCKET_FIELD).to_pylist()) == [
        "b0", "b1", "b2", "b3"
    ]
    assert sum(t._metadata["num_docs"] for t in out) == 4


def test_64_bit_signatures_find_the_same_duplicates(tmp_path):
    texts = ["the quick brown fox jumps over the lazy dog " * 3, "the quick brown fox jumps over the lazy dog " * 3,
             "an unrelated sentence about rivers and hills", ""]
    batch = DocumentBatch("b", "d", pa.table({CURATOR_DEDUP_ID_STR: [0, 1, 2, 3], "text": texts}))
    signed = MinHashStage(output_path=str(tmp_path), char_ngrams=5, num_hashes=12, use_64bit_hash=True).process(batch)
    assert pq.read_schema(signed.data[0]).field(CURATOR_DEFAULT_MINHASH_FIELD).type == pa.list_(pa.uint64())
    stage = LSHStage(num_bands=4, minhashes_per_band=3, output_path=str(tmp_path), bands_per_iteration=4)
    (out,) = stage.process_batch([signed])
    assert pq.read_table(out.data[0]).column(CURATOR_DEDUP_ID_STR).to_pylist() == [[0, 1]] * 4


def test_unreadable_inputs_name_the_stage_task_and_file(tmp_path):
    bad = tmp_path / "bad.parquet"
    bad.write_text("not parquet")
    task = FileGroupTask("lsh-part-3", "d", [str(bad)])
    with pytest.raises(StageInputError, match=r"'BucketsToEdgesStage'.*'lsh-part-3'.*bad\.parquet"):
        BucketsToEdgesStage(output_path=str(tmp_path / "out")).process(task)
    no_group = _file_task(tmp_path / "ids.parquet", pa.table({CURATOR_DEDUP_ID_STR: [1, 2]}), "cc-0")
    with pytest.raises(StageInputError, match=r"'IdentifyDuplicates'.*'cc-0'.*ids\.parquet"):
        IdentifyDuplicatesStage(output_path=str(tmp_path / "out")).process_batch([no_group])


def test_the_working_folder_is_never_emptied(tmp_path, monkeypatch):
    work = tmp_path / "work"
    work.mkdir()
    (work / "precious.txt").write_text("keep me")
    monkeypatch.chdir(work)
    with pytest.raises(ValueError, match="current folder"):
        ShuffleStage(shuffle_on=["k"])  # NeMo's default output_path="./" would empty it
    with pytest.raises(ValueError, match="current folder"):
        ShuffleStage(shuffle_on=["k"], output_path=str(tmp_path))
    assert (work / "precious.txt").read_text() == "keep me"
    IdentifyDuplicatesStage()  # the default "./" plus its own sub-folder is fine
    assert (work / DUPLICATE_IDS_SUBDIR).is_dir() and (work / "precious.txt").exists()
