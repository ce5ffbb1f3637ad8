"""NeMo Curator 1.4's file-based dedup stages composed by hand, as its fuzzy and exact workflows wire
them, find the planted duplicates and the same documents as our workflows, on LocalExecutor and on
the Ray actor pool."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from dedup_corpus import Corpus, make_corpus

from raycurator.backends.local import LocalExecutor
from raycurator.backends.ray_actor_pool import RayActorPoolExecutor
from raycurator.pipeline import Pipeline
from raycurator.stages.deduplication.common import DUPLICATE_OF_FIELD
from raycurator.stages.deduplication.exact.identification import ExactDuplicateIdentification
from raycurator.stages.deduplication.exact.workflow import ExactDeduplicationWorkflow
from raycurator.stages.deduplication.fuzzy.buckets_to_edges import BucketsToEdgesStage
from raycurator.stages.deduplication.fuzzy.connected_components import ConnectedComponentsStage
from raycurator.stages.deduplication.fuzzy.identify_duplicates import IdentifyDuplicatesStage
from raycurator.stages.deduplication.fuzzy.lsh.stage import LSHStage
from raycurator.stages.deduplication.fuzzy.minhash import MinHashStage
from raycurator.stages.deduplication.fuzzy.utils import CURATOR_FUZZY_DUPLICATE_GROUP_FIELD
from raycurator.stages.deduplication.fuzzy.workflow import FuzzyDeduplicationWorkflow
from raycurator.stages.deduplication.id_generator import (
    CURATOR_DEDUP_ID_STR,
    IdGeneratorBase,
    create_id_generator_actor,
    kill_id_generator_actor,
    write_id_generator_to_disk,
)
from raycurator.stages.file_partitioning import FilePartitioningStage
from raycurator.tasks import EmptyTask, FileGroupTask

pytestmark = pytest.mark.usefixtures("shared_ray")

PARAMS = {"seed": 42, "char_ngrams": 24, "num_bands": 20, "minhashes_per_band": 13}


@pytest.fixture(scope="module")
def corpus() -> Corpus:
    return make_corpus(num_originals=60, words_per_doc=150, num_exact=10, num_near=16, num_partial=6, seed=5)


@pytest.fixture(scope="module")
def source(corpus: Corpus, tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("nemo-src")
    size = -(-len(corpus.ids) // 3)
    rows = list(zip(corpus.ids, corpus.texts, strict=True))
    for k in range(3):
        with open(directory / f"part-{k}.jsonl", "w", encoding="utf-8") as handle:
            for doc_id, text in rows[k * size : (k + 1) * size]:
                handle.write(json.dumps({"id": doc_id, "text": text}) + "\n")
    return directory


def partitions(source: Path) -> list[FileGroupTask]:
    return FilePartitioningStage(str(source), files_per_partition=1, file_extensions=[".jsonl"]).process(EmptyTask)


def corpus_ids(generator_file: Path, groups: list[FileGroupTask]) -> dict[int, str]:
    """Generator id -> the document's own id, from the saved generator state and the input files."""
    generator = IdGeneratorBase.from_disk(str(generator_file))
    mapping = {}
    for group in groups:
        first, last = generator.get_batch_range(group.data, None)
        own = [json.loads(line)["id"] for path in group.data for line in Path(path).read_text().splitlines()]
        assert last - first + 1 == len(own)
        mapping.update({first + k: doc for k, doc in enumerate(own)})
    return mapping


def ids_in(files: list[str], column: str) -> list:
    return [i for f in files for i in pq.read_table(f).column(column).to_pylist()]


@pytest.fixture(scope="module")
def workflow_groups(source: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[set[str], set[frozenset]]:
    """(ids removed, duplicate groups) of our `FuzzyDeduplicationWorkflow` with the same parameters."""
    out = tmp_path_factory.mktemp("workflow")
    result = FuzzyDeduplicationWorkflow(
        str(out / "cache"), str(out / "out"), str(source), input_filetype="jsonl", id_field="id", **PARAMS
    ).run(executor=LocalExecutor())
    groups: dict[str, set[str]] = {}
    for f in result.duplicate_id_files:
        table = pq.read_table(f)
        for dup, kept in zip(table.column("id").to_pylist(), table.column(DUPLICATE_OF_FIELD).to_pylist(), strict=True):
            groups.setdefault(kept, {kept}).add(dup)
    removed = set(ids_in(result.duplicate_id_files, "id"))
    return removed, {frozenset(g) for g in groups.values()}


def run_fuzzy_by_hand(source: Path, tmp: Path, executor, one_pipeline: bool) -> tuple[set[str], set[frozenset]]:
    """NeMo's fuzzy workflow by hand: minhash, LSH, then edges -> components -> duplicate ids.

    Returns (documents listed for removal, duplicate groups), by the documents' own ids.
    """
    cache, out = tmp / "cache", tmp / "out"
    groups = partitions(source)
    num_hashes = PARAMS["num_bands"] * PARAMS["minhashes_per_band"]
    minhash = MinHashStage(
        output_path=str(cache), text_field="text", char_ngrams=PARAMS["char_ngrams"], num_hashes=num_hashes,
        seed=PARAMS["seed"], read_format="jsonl",
    )
    lsh_args = {"num_bands": PARAMS["num_bands"], "minhashes_per_band": PARAMS["minhashes_per_band"]}
    create_id_generator_actor()
    try:
        if one_pipeline:
            results = Pipeline(
                "fuzzy_by_hand",
                stages=[
                    minhash,
                    LSHStage(**lsh_args, output_path=str(cache), bands_per_iteration=7),
                    BucketsToEdgesStage(output_path=str(cache)),
                    ConnectedComponentsStage(output_path=str(cache)),
                    IdentifyDuplicatesStage(output_path=str(out)),
                ],
            ).run(executor, initial_tasks=groups)
            write_id_generator_to_disk(str(out / "fuzzy_id_generator.json"))
        else:
            minhash_tasks = Pipeline("minhash_pipeline", stages=[minhash]).run(executor, initial_tasks=groups)
            assert [t.data for t in minhash_tasks] == [[str(cache / "MinHashStage" / f"{g.task_id}.parquet")]
                                                       for g in groups]
            write_id_generator_to_disk(str(out / "fuzzy_id_generator.json"))
            lsh_tasks = Pipeline(
                "lsh_duplicate_identification_pipeline",
                stages=[
                    FilePartitioningStage(str(cache / "MinHashStage"), file_extensions=[".parquet"], blocksize="2GiB"),
                    LSHStage(**lsh_args, output_path=str(cache)),
                ],
            ).run(executor)
            assert len(lsh_tasks) == 4  # 20 bands, 5 per iteration, one partition (one input task)
            valid = [t for t in lsh_tasks if t._metadata["num_docs"] > 0]
            results = Pipeline(
                "connected_components_pipeline",
                stages=[
                    BucketsToEdgesStage(output_path=str(cache)),
                    ConnectedComponentsStage(output_path=str(cache)),
                    IdentifyDuplicatesStage(output_path=str(out)),
                ],
            ).run(executor, initial_tasks=valid)
    finally:
        kill_id_generator_actor()
    own = corpus_ids(out / "fuzzy_id_generator.json", groups)
    removal_files = sorted(str(p) for p in (out / "FuzzyDuplicateIds").glob("*.parquet"))
    assert sorted(f for t in results for f in t.data) == removal_files
    assert sum(t._metadata["num_removal_ids"] for t in results) == len(ids_in(removal_files, CURATOR_DEDUP_ID_STR))
    assert all(pq.read_schema(f).names == [CURATOR_DEDUP_ID_STR] for f in removal_files)
    removed_ids = set(ids_in(removal_files, CURATOR_DEDUP_ID_STR))
    components = pq.read_table(cache / "ConnectedComponentsStage")
    by_group: dict[int, set[int]] = {}
    for doc, group in zip(components.column(CURATOR_DEDUP_ID_STR).to_pylist(),
                          components.column(CURATOR_FUZZY_DUPLICATE_GROUP_FIELD).to_pylist(), strict=True):
        by_group.setdefault(group, set()).add(doc)
    assert all(g - removed_ids == {min(g)} for g in by_group.values())  # the smallest id of each group is kept
    return {own[i] for i in removed_ids}, {frozenset(own[i] for i in g) for g in by_group.values()}


def check_against_corpus(corpus: Corpus, removed: set[str], groups: set[frozenset]) -> None:
    group_of = {doc: g for g in groups for doc in g}
    planted = [(b, a) for b, a in corpus.exact_copies.items()] + corpus.near_pairs
    found = sum(a in group_of and b in group_of[a] for a, b in planted)
    assert found >= 0.9 * len(planted)
    assert not any(a in group_of and b in group_of[a] for a, b in corpus.partial_pairs)  # half overlap: different
    assert all(len(g - removed) == 1 for g in groups)  # one document kept per group
    assert len(removed) == sum(len(g) - 1 for g in groups)


def test_fuzzy_stages_by_hand_on_local_executor(source, corpus, workflow_groups, tmp_path):
    removed, groups = run_fuzzy_by_hand(source, tmp_path, LocalExecutor(), one_pipeline=False)
    check_against_corpus(corpus, removed, groups)
    assert groups == workflow_groups[1]
    # generator ids follow the files in order here, so the smallest id of a group is the same document
    assert removed == workflow_groups[0]


@pytest.mark.slow  # five actor pools, one per stage: ~25 s on 2 busy cores
def test_fuzzy_stages_in_one_pipeline_on_the_actor_pool(source, corpus, workflow_groups, tmp_path):
    removed, groups = run_fuzzy_by_hand(source, tmp_path, RayActorPoolExecutor(show_progress=False), True)
    check_against_corpus(corpus, removed, groups)
    assert groups == workflow_groups[1]
    bands = sorted(p.name for p in (tmp_path / "cache" / "LSHStage").iterdir())
    assert bands == ["band_0-band_7", "band_14-band_20", "band_7-band_14"]


def test_exact_identification_by_hand_matches_the_workflow(source, corpus, tmp_path):
    """(On the actor pool: tests/compat/test_compat_ray.py, followed by the removal workflow.)"""
    groups = partitions(source)
    create_id_generator_actor()
    try:
        results = Pipeline(
            "exact_by_hand",
            stages=[
                ExactDuplicateIdentification(
                    text_field="text", output_path=str(tmp_path / "cache"), input_filetype="jsonl",
                    normalize_text=True, total_nparts=2,
                )
            ],
        ).run(LocalExecutor(), initial_tasks=groups)
        write_id_generator_to_disk(str(tmp_path / "exact_id_generator.json"))
    finally:
        kill_id_generator_actor()
    files = sorted(str(p) for p in (tmp_path / "cache" / "ExactDuplicateIds").iterdir())
    assert [Path(f).name for f in files] == ["part.0.parquet", "part.1.parquet"]  # every partition has a file
    assert sorted(f for t in results for f in t.data) == files
    own = corpus_ids(tmp_path / "exact_id_generator.json", groups)
    removed = [own[i] for i in ids_in(files, CURATOR_DEDUP_ID_STR)]
    assert sum(t._metadata["num_removal_ids"] for t in results) == len(removed) == len(corpus.exact_copies)
    for copy, original in corpus.exact_copies.items():
        assert len({copy, original} & set(removed)) == 1
    workflow = ExactDeduplicationWorkflow(
        str(tmp_path / "workflow"), str(source), input_filetype="jsonl", id_field="id", normalize_text=True
    ).run(executor=LocalExecutor())
    # generator ids follow the file order, so the smallest id of a group is the same document
    assert set(removed) == set(ids_in(workflow.duplicate_id_files, "id"))
