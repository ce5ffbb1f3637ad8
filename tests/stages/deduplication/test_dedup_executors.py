"""Dedup gives identical results on LocalExecutor, the Ray actor-pool executor and a 3-node cluster."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from dedup_corpus import Corpus, make_corpus

from raycurator.backends.local import LocalExecutor
from raycurator.backends.ray_actor_pool import RayActorPoolExecutor
from raycurator.stages.deduplication.exact.workflow import ExactDeduplicationWorkflow
from raycurator.stages.deduplication.fuzzy.workflow import FuzzyDeduplicationWorkflow


@pytest.fixture(scope="module")
def corpus() -> Corpus:
    return make_corpus(num_originals=120, words_per_doc=200, num_exact=20, num_near=30, num_partial=10, seed=11)


@pytest.fixture(scope="module")
def source(corpus: Corpus, tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("dedup-src")
    size = -(-len(corpus.ids) // 4)
    for k in range(4):
        with open(directory / f"part-{k}.jsonl", "w", encoding="utf-8") as handle:
            for doc_id, text in list(zip(corpus.ids, corpus.texts, strict=True))[k * size : (k + 1) * size]:
                handle.write(json.dumps({"id": doc_id, "text": text}) + "\n")
    return directory


def outcome(source: Path, out: Path, executor) -> tuple[list[str], list[str], list[str]]:
    """(exact duplicate ids, fuzzy duplicate ids, ids kept after both) of one executor."""
    exact = ExactDeduplicationWorkflow(str(out / "exact"), str(source), input_filetype="jsonl", id_field="id",
                                       normalize_text=True, perform_removal=True).run(executor=executor)
    fuzzy = FuzzyDeduplicationWorkflow(str(out / "cache"), str(out / "fuzzy"), str(out / "exact" / "deduplicated"),
                                       input_filetype="jsonl", id_field="id", perform_removal=True,
                                       verify=True).run(executor=executor)
    exact_ids = sorted(i for f in exact.duplicate_id_files for i in pq.read_table(f)["id"].to_pylist())
    fuzzy_ids = sorted(i for f in fuzzy.duplicate_id_files for i in pq.read_table(f)["id"].to_pylist())
    kept = sorted(json.loads(line)["id"] for f in fuzzy.output_files for line in Path(f).read_text().splitlines())
    return exact_ids, fuzzy_ids, kept


@pytest.fixture(scope="module")
def local_outcome(source: Path, tmp_path_factory: pytest.TempPathFactory):
    return outcome(source, tmp_path_factory.mktemp("local"), LocalExecutor())


def test_local_outcome_is_sound(local_outcome, corpus: Corpus) -> None:
    exact_ids, fuzzy_ids, kept = local_outcome
    assert len(exact_ids) == 20 and len(fuzzy_ids) >= 0.95 * 30
    assert len(kept) == len(corpus.ids) - len(exact_ids) - len(fuzzy_ids)


@pytest.mark.usefixtures("shared_ray")
@pytest.mark.parametrize("mode", ["streaming", "stage_by_stage"])
def test_actor_pool_executor_matches_local(local_outcome, source: Path, tmp_path: Path, mode: str) -> None:
    executor = RayActorPoolExecutor(config={"mode": mode}, show_progress=False)
    assert outcome(source, tmp_path, executor) == local_outcome


@pytest.mark.slow
def test_three_node_cluster_matches_local(local_outcome, source: Path, tmp_path: Path, ray_session) -> None:
    with ray_session.cluster({"num_cpus": 1}, {"num_cpus": 1}) as cluster:
        executor = RayActorPoolExecutor(config={"address": cluster.address}, show_progress=False)
        assert outcome(source, tmp_path, executor) == local_outcome
        assert executor.last_report.status == "succeeded"
