"""`KMeansStage`: cluster document embeddings with faiss k-means, write them partitioned by cluster.

`KMeansStage` (composite) = `FilePartitioningStage` (one task per embedding file) ->
`KMeansReadFitWriteStage`, a barrier that makes two passes over the files, holding one file
(plus a bounded sample) in memory at a time:

1. fit: a uniform sample of at most `n_clusters * 256` rows (bottom-k of random keys, so the
   total need not be known up front; `fit_data_fraction` first restricts it to a random
   share of the files), L2-normalised, clustered with `faiss.Kmeans`;
2. assign: each file's rows are normalised, given their nearest centroid and their distances
   to it (`l2_dist_to_cent`, `cosine_dist_to_cent`), and appended to per-cluster buffers
   written as ``<output_path>/centroid=<k>/<part>.parquet`` (atomic writes) whenever the
   buffered rows pass `write_batch_rows`.

faiss (made for k-means and nearest-centroid search on dense vectors, multi-threaded, CPU
and GPU builds) runs `max_iter` Lloyd iterations in rounds of 10 and stops early once the
centroids move less than `tol` (relative). `init` accepts "k-means||" / "random" (both use
faiss's seeded random initialisation) or an array of initial centroids.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pyarrow as pa

from raycurator.stages.base import CompositeStage, ProcessingStage, RayStageSpecKeys
from raycurator.stages.deduplication.semantic.utils import (
    EMBEDDING_DTYPES,
    embedding_array,
    embeddings_matrix,
    normalize_rows,
    read_table,
    require_file_columns,
    write_parquet_atomic,
)
from raycurator.stages.deduplication.workflow_utils import check_filetype, join_path
from raycurator.stages.file_partitioning import FilePartitioningStage
from raycurator.stages.resources import Resources
from raycurator.tasks import FileGroupTask, Task
from raycurator.tasks.tasks import _EmptyTask

logger = logging.getLogger(__name__)

L2_DIST_TO_CENT_COL = "l2_dist_to_cent"
COSINE_DIST_TO_CENT_COL = "cosine_dist_to_cent"
CENTROID_COL = "centroid"
#: Sample rows per cluster used to fit (faiss's own default cap).
FIT_POINTS_PER_CLUSTER = 256
#: Lloyd iterations between two convergence checks.
ITERATIONS_PER_ROUND = 10

KMeansEmbeddingOutputDtype = Literal["float16", "float32"]


def validate_embedding_output_dtype(embedding_output_dtype: object) -> None:
    """A `ValueError` unless `embedding_output_dtype` is "float16" or "float32"."""
    if embedding_output_dtype not in EMBEDDING_DTYPES:
        raise ValueError(f"embedding_output_dtype must be one of {EMBEDDING_DTYPES}, got {embedding_output_dtype!r}")


def default_file_extensions(filetype: str) -> list[str]:
    """The file name endings read for `filetype`."""
    return [".jsonl", ".json"] if filetype == "jsonl" else [".parquet"]


def fit_kmeans(
    sample: np.ndarray,
    n_clusters: int,
    max_iter: int,
    tol: float,
    random_state: int,
    n_init: int,
    init: np.ndarray | None = None,
) -> tuple[np.ndarray, int]:
    """(centroids, iterations run) of faiss k-means on the rows of `sample` (float32)."""
    import faiss

    dim = sample.shape[1]
    centroids = None if init is None else np.ascontiguousarray(init, dtype=np.float32)
    done = 0
    scale = float(np.mean(np.var(sample, axis=0))) or 1.0
    while done < max_iter:
        step = min(ITERATIONS_PER_ROUND, max_iter - done)
        kmeans = faiss.Kmeans(
            dim,
            n_clusters,
            niter=step,
            seed=int(random_state) + done,
            nredo=n_init if centroids is None else 1,
            max_points_per_centroid=max(FIT_POINTS_PER_CLUSTER, -(-len(sample) // n_clusters)),
            min_points_per_centroid=1,
            verbose=False,
        )
        kmeans.train(sample, init_centroids=centroids)
        new = np.asarray(kmeans.centroids, dtype=np.float32).copy()
        done += step
        if centroids is not None:
            shift = float(np.mean(np.sum((new - centroids) ** 2, axis=1)))
            centroids = new
            if shift <= tol * scale:
                break
        else:
            centroids = new
    return centroids, done


def assign_clusters(embeddings: np.ndarray, centroids: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(nearest centroid, L2 distance to it, cosine distance to it) of each normalised row."""
    import faiss

    index = faiss.IndexFlatL2(centroids.shape[1])
    index.add(centroids)
    _, nearest = index.search(np.ascontiguousarray(embeddings, dtype=np.float32), 1)
    labels = nearest[:, 0].astype(np.int64)
    chosen = centroids[labels]
    l2 = np.sqrt(np.sum((embeddings - chosen) ** 2, axis=1))
    unit = normalize_rows(centroids)[labels]
    cosine = 1.0 - np.sum(embeddings * unit, axis=1)
    return labels, l2.astype(np.float32), cosine.astype(np.float32)


class KMeansReadFitWriteStage(ProcessingStage[FileGroupTask, Task]):
    """The barrier of `KMeansStage`: fit on a bounded sample, then assign and write file by file."""

    def __init__(
        self,
        id_field: str,
        embedding_field: str,
        output_path: str,
        filetype: Literal["parquet", "jsonl"],
        n_clusters: int,
        metadata_fields: list[str] | None = None,
        verbose: bool = False,
        max_iter: int = 300,
        tol: float = 1e-4,
        random_state: int = 42,
        init: Literal["k-means||", "random"] | np.ndarray = "k-means||",
        n_init: int | Literal["auto"] = 1,
        oversampling_factor: float = 2.0,
        max_samples_per_batch: int = 1 << 15,
        fit_data_fraction: float | None = None,
        read_kwargs: dict[str, Any] | None = None,
        write_kwargs: dict[str, Any] | None = None,
        cache_path: str | None = None,
        embedding_output_dtype: KMeansEmbeddingOutputDtype = "float32",
        write_batch_rows: int = 100_000,
    ) -> None:
        if not isinstance(n_clusters, int) or n_clusters < 1:
            raise ValueError(f"n_clusters must be a positive int, got {n_clusters!r}")
        if max_iter < 1:
            raise ValueError(f"max_iter must be positive, got {max_iter}")
        if fit_data_fraction is not None and not 0.0 < fit_data_fraction <= 1.0:
            raise ValueError(f"fit_data_fraction must lie in (0, 1], got {fit_data_fraction}")
        validate_embedding_output_dtype(embedding_output_dtype)
        if isinstance(init, str) and init not in ("k-means||", "random", "scalable-k-means++", "k-means++"):
            raise ValueError(f"init must be 'k-means||', 'random' or an array of centroids, got {init!r}")
        for key in ("partition_cols", "index"):
            if key in (write_kwargs or {}):
                raise ValueError(f"write_kwargs must not hold '{key}': the stage partitions its output itself")
        self.id_field = id_field
        self.embedding_field = embedding_field
        self.output_path = output_path
        self.filetype = check_filetype(filetype, "filetype")
        self.n_clusters = n_clusters
        self.metadata_fields = list(metadata_fields or [])
        self.verbose = verbose
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state
        self.init = init
        self.n_init = 1 if n_init == "auto" else int(n_init)
        self.oversampling_factor = oversampling_factor
        self.max_samples_per_batch = max_samples_per_batch
        self.fit_data_fraction = fit_data_fraction
        self.read_kwargs = dict(read_kwargs or {})
        self.write_kwargs = dict(write_kwargs or {})
        self.cache_path = cache_path
        self.embedding_output_dtype = embedding_output_dtype
        self.write_batch_rows = write_batch_rows
        self._name = "KMeansStage"
        self._resources = Resources(cpus=1.0)

    def ray_stage_spec(self) -> dict[str, Any]:
        return {RayStageSpecKeys.IS_BARRIER: True, RayStageSpecKeys.IS_ACTOR_STAGE: True}

    def setup(self, worker_metadata: Any = None) -> None:
        import faiss

        faiss.omp_set_num_threads(max(1, round(self.resources.cpus)))  # same threads everywhere: same result

    def process(self, task: FileGroupTask) -> list[Task]:
        return self.process_batch([task])

    # -- pass 1: a bounded uniform sample, then fit ----------------------------------------------
    def _fit_files(self, files: list[str]) -> list[str]:
        if self.fit_data_fraction is None or self.fit_data_fraction >= 1.0:
            return files
        count = max(1, round(len(files) * self.fit_data_fraction))
        chosen = np.random.default_rng(self.random_state).choice(len(files), size=count, replace=False)
        return [files[i] for i in sorted(chosen)]

    def _sample(self, files: list[str]) -> tuple[np.ndarray, int]:
        """(sample of normalised embeddings, width) from `files`, at most n_clusters * 256 rows."""
        cap = self.n_clusters * FIT_POINTS_PER_CLUSTER
        rng = np.random.default_rng(self.random_state)
        keys = np.zeros(0, dtype=np.float64)
        rows = np.zeros((0, 0), dtype=np.float32)
        dim: int | None = None
        for path in files:
            table = read_table(path, self.filetype, [self.id_field, self.embedding_field], self.read_kwargs)
            require_file_columns(table, [self.id_field, self.embedding_field], self.name, path)
            matrix = embeddings_matrix(table, self.embedding_field, self.name, path, dim)
            if not len(matrix):
                continue
            dim = matrix.shape[1]
            rows = normalize_rows(matrix) if not len(rows) else np.concatenate([rows, normalize_rows(matrix)])
            keys = np.concatenate([keys, rng.random(len(matrix))])
            if len(rows) > cap:
                keep = np.sort(np.argpartition(keys, cap)[:cap])
                rows, keys = rows[keep], keys[keep]
        return np.ascontiguousarray(rows, dtype=np.float32), dim or 0

    def _fit(self, files: list[str]) -> np.ndarray:
        start = time.perf_counter()
        sample, _ = self._sample(self._fit_files(files))
        if not len(sample):
            return np.zeros((0, 0), dtype=np.float32)
        n_clusters = min(self.n_clusters, len(sample))
        if n_clusters < self.n_clusters:
            logger.warning(
                "stage '%s': %d document(s) to cluster but n_clusters=%d; using %d clusters",
                self.name, len(sample), self.n_clusters, n_clusters,
            )
        init = None
        if isinstance(self.init, np.ndarray):
            init = np.asarray(self.init, dtype=np.float32)
            if init.shape != (n_clusters, sample.shape[1]):
                raise ValueError(
                    f"stage '{self.name}': init centroids have shape {init.shape}, need {(n_clusters, sample.shape[1])}"
                )
        centroids, iterations = fit_kmeans(
            sample, n_clusters, self.max_iter, self.tol, self.random_state, self.n_init, init
        )
        self._log_metrics(
            {"kmeans_fit_time": time.perf_counter() - start, "kmeans_fit_rows": len(sample),
             "kmeans_iterations": iterations, "n_clusters": n_clusters}
        )  # fmt: skip
        if self.cache_path:
            import io

            buffer = io.BytesIO()
            np.save(buffer, centroids)
            from raycurator.stages.text.io._fs import url_to_fs
            from raycurator.stages.text.io.writer._files import atomic_write

            fs, local = url_to_fs(join_path(self.cache_path, "kmeans_centroids.npy"))
            atomic_write(fs, local, buffer.getvalue())
        return centroids

    # -- pass 2: assign every row and write per-cluster partitions -------------------------------------
    def _flush(self, buffers: dict[int, list[pa.Table]], part: int, written: dict[int, int]) -> None:
        for centroid, tables in sorted(buffers.items()):
            table = pa.concat_tables(tables)
            path = join_path(self.output_path, f"{CENTROID_COL}={centroid}", f"part-{part:06d}.parquet")
            write_parquet_atomic(table, path, self.write_kwargs)
            written[centroid] = written.get(centroid, 0) + table.num_rows
        buffers.clear()

    def process_batch(self, tasks: list[FileGroupTask]) -> list[Task]:
        ordered = sorted(tasks, key=lambda t: (t._metadata.get("partition_index", 0), t.task_id))
        files = [f for task in ordered for f in task.data]
        dataset = ordered[0].dataset_name if ordered else "kmeans"
        centroids = self._fit(files)
        written: dict[int, int] = {}
        if len(centroids):
            start = time.perf_counter()
            columns = list(dict.fromkeys([self.id_field, self.embedding_field, *self.metadata_fields]))
            buffers: dict[int, list[pa.Table]] = {}
            buffered, part = 0, 0
            for path in files:
                table = read_table(path, self.filetype, columns, self.read_kwargs)
                require_file_columns(table, columns, self.name, path)
                embeddings = normalize_rows(
                    embeddings_matrix(table, self.embedding_field, self.name, path, centroids.shape[1])
                )
                if not len(embeddings):
                    continue
                labels, l2, cosine = assign_clusters(embeddings, centroids)
                table = table.select([c for c in columns if c != self.embedding_field])
                stored = embedding_array(embeddings, self.embedding_output_dtype)
                table = table.append_column(self.embedding_field, stored)
                table = table.append_column(L2_DIST_TO_CENT_COL, pa.array(l2))
                table = table.append_column(COSINE_DIST_TO_CENT_COL, pa.array(cosine))
                order = np.argsort(labels, kind="stable")
                sorted_labels = labels[order]
                table = table.take(pa.array(order))
                bounds = np.flatnonzero(np.diff(sorted_labels)) + 1
                for lo, hi in zip(np.r_[0, bounds], np.r_[bounds, len(sorted_labels)], strict=True):
                    buffers.setdefault(int(sorted_labels[lo]), []).append(table.slice(int(lo), int(hi - lo)))
                buffered += len(labels)
                if buffered >= self.write_batch_rows:
                    self._flush(buffers, part, written)
                    buffered, part = 0, part + 1
            self._flush(buffers, part, written)
            self._log_metrics({"kmeans_assign_write_time": time.perf_counter() - start})
        total = sum(written.values())
        self._log_metrics(
            {"num_rows": total, "num_nonempty_clusters": len(written),
             "largest_cluster": max(written.values(), default=0)}
        )  # fmt: skip
        logger.info("stage '%s': %d row(s) in %d non-empty cluster(s)", self.name, total, len(written))
        return [
            _EmptyTask(
                task_id=f"{dataset}_kmeans",
                dataset_name=dataset,
                data=None,
                _metadata={"cluster_sizes": {str(k): v for k, v in sorted(written.items())}, "num_rows": total},
                _stage_perf=list(ordered[0]._stage_perf) if ordered else [],
            )
        ]


@dataclass
class KMeansStage(CompositeStage[Task, Task]):
    """K-means over the embedding files under `input_path`; output partitioned by cluster.

    Writes ``<output_path>/centroid=<k>/*.parquet`` with `id_field`, `embedding_field`
    (normalised; `embedding_output_dtype`), `metadata_fields`, `l2_dist_to_cent` and
    `cosine_dist_to_cent`. Memory: one input file plus a sample of `n_clusters * 256` rows
    and the buffered output (`write_batch_rows`). `max_samples_per_batch` and
    `oversampling_factor` are accepted for API compatibility (faiss needs neither).
    """

    n_clusters: int
    id_field: str
    embedding_field: str
    input_path: str | list[str]
    output_path: str
    metadata_fields: list[str] | None = None
    verbose: bool = False
    input_filetype: Literal["jsonl", "parquet"] = "parquet"
    input_file_extensions: list[str] | None = None
    read_kwargs: dict[str, Any] | None = None
    write_kwargs: dict[str, Any] | None = None
    max_iter: int = 300
    tol: float = 1e-4
    random_state: int = 42
    init: Any = "k-means||"
    n_init: int | Literal["auto"] = 1
    oversampling_factor: float = 2.0
    max_samples_per_batch: int = 1 << 15
    fit_data_fraction: float | None = None
    cache_path: str | None = None
    embedding_output_dtype: KMeansEmbeddingOutputDtype = "float32"
    write_batch_rows: int = 100_000

    def __post_init__(self) -> None:
        self.input_filetype = check_filetype(self.input_filetype, "input_filetype")  # type: ignore[assignment]
        self._parts = self._build_parts()  # validates every parameter now

    def _build_parts(self) -> list[ProcessingStage]:
        read_kwargs = dict(self.read_kwargs or {})
        return [
            FilePartitioningStage(
                file_paths=self.input_path,
                files_per_partition=1,
                file_extensions=self.input_file_extensions or default_file_extensions(self.input_filetype),
                storage_options=read_kwargs.get("storage_options"),
            ),
            KMeansReadFitWriteStage(
                id_field=self.id_field,
                embedding_field=self.embedding_field,
                output_path=self.output_path,
                filetype=self.input_filetype,
                n_clusters=self.n_clusters,
                metadata_fields=self.metadata_fields,
                verbose=self.verbose,
                max_iter=self.max_iter,
                tol=self.tol,
                random_state=self.random_state,
                init=self.init,
                n_init=self.n_init,
                oversampling_factor=self.oversampling_factor,
                max_samples_per_batch=self.max_samples_per_batch,
                fit_data_fraction=self.fit_data_fraction,
                read_kwargs=read_kwargs,
                write_kwargs=self.write_kwargs,
                cache_path=self.cache_path,
                embedding_output_dtype=self.embedding_output_dtype,
                write_batch_rows=self.write_batch_rows,
            ),
        ]

    def decompose(self) -> list[ProcessingStage]:
        return self._build_parts()
