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
    """The baseline the other executors are held to removes exactly the planted copies."""
    exact_ids, fuzzy_ids, kept = local_outcome
    assert len(exact_ids) == len(set(exact_ids)) == 20
    # each planted exact pair loses exactly one of its two documents, and nothing else is removed
    pairs = [{copy, original} for copy, original in corpus.exact_copies.items()]
    assert all(len(pair & set(exact_ids)) == 1 for pair in pairs), exact_ids
    assert set(exact_ids) <= set().union(*pairs)
    # near copies group with their original (and its exact copy, whichever of them survived): the
    # fuzzy stage removes only members of those groups, at least 95% of what it could, and keeps
    # one member of every group; half-overlap documents are never removed
    groups: dict[str, set[str]] = {}
    for original, near in corpus.near_pairs:
        groups.setdefault(original, {original}).add(near)
    for copy, original in corpus.exact_copies.items():
        if original in groups:
            groups[original].add(copy)
    survivors = {original: group - set(exact_ids) for original, group in groups.items()}
    assert set(fuzzy_ids) <= set().union(*survivors.values()), sorted(set(fuzzy_ids) - set().union(*groups.values()))
    assert all(group - set(fuzzy_ids) for group in survivors.values()), "a whole group was removed"
    removable = sum(len(group) - 1 for group in survivors.values())
    assert len(fuzzy_ids) == len(set(fuzzy_ids)) >= 0.95 * removable
    assert not set(fuzzy_ids) & {partial for _, partial in corpus.partial_pairs}
    assert set(kept) == set(corpus.ids) - set(exact_ids) - set(fuzzy_ids) and len(kept) == len(set(kept))


@pytest.mark.usefixtures("shared_ray")
def test_actor_pool_executor_matches_local(local_outcome, source: Path, tmp_path: Path) -> None:
    executor = RayActorPoolExecutor(config={"mode": "streaming"}, show_progress=False)
    assert outcome(source, tmp_path, executor) == local_outcome


@pytest.mark.slow
def test_three_node_cluster_matches_local(local_outcome, source: Path, tmp_path: Path, ray_session) -> None:
    """Stage by stage on several nodes (streaming runs on the shared Ray above)."""
    with ray_session.cluster({"num_cpus": 1}, {"num_cpus": 1}) as cluster:
        config = {"address": cluster.address, "mode": "stage_by_stage"}
        executor = RayActorPoolExecutor(config=config, show_progress=False)
        assert outcome(source, tmp_path, executor) == local_outcome
        assert executor.last_report.status == "succeeded"
