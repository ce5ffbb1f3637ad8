"""Connected components of the duplicate graph.

`InMemoryConnectedComponentsStage` (our workflows): candidate-pair rows in, the ids to remove
out (one document kept per component). `ConnectedComponentsStage` (NeMo Curator 1.4's):
edge files in, a file mapping each document to its component out.
"""

from __future__ import annotations

import logging
from typing import Any

import fsspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from raycurator.stages.base import ProcessingStage, RayStageSpecKeys
from raycurator.stages.deduplication.common import (
    CURATOR_DEDUP_ID_STR,
    DUPLICATE_OF_FIELD,
    require_columns,
    table_of,
    write_ids_file,
)
from raycurator.stages.deduplication.files import (
    create_or_overwrite_dir,
    file_group_of,
    join_path,
    read_files,
    storage_options_of,
    write_parquet_atomic,
)
from raycurator.stages.deduplication.fuzzy.buckets import sorted_unique
from raycurator.stages.deduplication.fuzzy.rows import JACCARD_FIELD, KIND_PAIR, PAIR_ID_FIELD, rows_of_kind
from raycurator.stages.deduplication.fuzzy.utils import CURATOR_FUZZY_DUPLICATE_GROUP_FIELD
from raycurator.tasks import DocumentBatch, FileGroupTask

logger = logging.getLogger(__name__)


def component_labels(left: np.ndarray, right: np.ndarray, num_nodes: int) -> np.ndarray:
    """Component label of every node 0..num_nodes-1 of the undirected graph of edges (left, right)."""
    if num_nodes == 0:
        return np.empty(0, dtype=np.int32)
    graph = coo_matrix(
        (np.ones(len(left), dtype=np.int8), (left, right)), shape=(num_nodes, num_nodes)
    ).tocsr()
    _, labels = connected_components(graph, directed=False)
    return labels


def duplicates_from_edges(edges: pa.Table, id_field: str, pair_field: str = PAIR_ID_FIELD) -> pa.Table:
    """Every document of a component but its smallest id, with that id: `(id_field, _duplicate_of)`."""
    id_type = edges.schema.field(id_field).type
    ids = pa.chunked_array(
        [*edges.column(id_field).chunks, *edges.column(pair_field).cast(id_type).chunks], type=id_type
    )
    if len(ids) == 0:
        empty = ids.combine_chunks().slice(0, 0)
        return pa.table({id_field: empty, DUPLICATE_OF_FIELD: empty})
    universe = sorted_unique(ids)  # node i is the i-th smallest id
    nodes = pc.index_in(ids, value_set=universe).to_numpy(zero_copy_only=False).astype(np.int64)
    half = edges.num_rows
    labels = component_labels(nodes[:half], nodes[half:], len(universe))
    # nodes are numbered in id order, so the first node of each label is its smallest id
    _, first_node = np.unique(labels, return_index=True)
    kept_node = first_node[labels]
    duplicate = np.flatnonzero(kept_node != np.arange(len(universe)))
    return pa.table(
        {
            id_field: universe.take(pa.array(duplicate)),
            DUPLICATE_OF_FIELD: universe.take(pa.array(kept_node[duplicate])),
        }
    )


class InMemoryConnectedComponentsStage(ProcessingStage[DocumentBatch, DocumentBatch]):
    """Barrier: gather every duplicate pair, find connected components, list the duplicates.

    Of each component the document with the smallest id is kept; every other member is
    emitted as `(id_field, _duplicate_of)`, sorted by id, in tasks of at most
    `rows_per_output` rows (none when there is no duplicate). With `edges_path`, the
    gathered pairs are also written there as ``pairs.parquet``. With `output_path`, the
    duplicate ids are written there as ``part-<n>.parquet`` files instead (no writer stage
    needed after this one) and the stage returns one `FileGroupTask` per file.
    """

    _name = "InMemoryConnectedComponentsStage"

    def __init__(
        self,
        id_field: str = CURATOR_DEDUP_ID_STR,
        rows_per_output: int = 1_000_000,
        edges_path: str | None = None,
        *,
        output_path: str | None = None,
    ) -> None:
        if rows_per_output < 1:
            raise ValueError(f"rows_per_output must be >= 1, got {rows_per_output}")
        self.id_field = id_field
        self.rows_per_output = rows_per_output
        self.edges_path = edges_path
        self.output_path = output_path

    def inputs(self) -> tuple[list[str], list[str]]:
        return ["data"], [self.id_field, PAIR_ID_FIELD]

    def outputs(self) -> tuple[list[str], list[str]]:
        return ["data"], [self.id_field, DUPLICATE_OF_FIELD]

    def ray_stage_spec(self) -> dict[str, Any]:
        return {RayStageSpecKeys.IS_BARRIER: True}

    def process(self, task: DocumentBatch) -> list[DocumentBatch]:
        return self.process_batch([task])

    def process_batch(self, tasks: list[DocumentBatch]) -> list[DocumentBatch | FileGroupTask]:
        if not tasks:
            return []
        edge_tables = []
        for task in tasks:
            table = table_of(task, self.name)
            require_columns(table, [self.id_field, PAIR_ID_FIELD], self.name, task)
            columns = [self.id_field, PAIR_ID_FIELD]
            if JACCARD_FIELD in table.column_names:
                columns.append(JACCARD_FIELD)
            edge_tables.append(rows_of_kind(table, KIND_PAIR, columns))
        edges = pa.concat_tables(edge_tables, promote_options="default")
        if self.edges_path:
            self._write_edges(edges)
        duplicates = duplicates_from_edges(edges, self.id_field)
        self._log_metrics({"num_edges": edges.num_rows, "num_duplicates": duplicates.num_rows})
        logger.info(
            "stage '%s': %d edges -> %d duplicate documents", self.name, edges.num_rows, duplicates.num_rows
        )
        outputs: list[DocumentBatch | FileGroupTask] = []
        for index, start in enumerate(range(0, duplicates.num_rows, self.rows_per_output)):
            task_id, part = f"{self.name}-{index:05d}", duplicates.slice(start, self.rows_per_output)
            if self.output_path:
                outputs.append(
                    write_ids_file(part, self.output_path, f"part-{index:05d}.parquet", tasks[0].dataset_name, task_id)
                )
            else:
                outputs.append(DocumentBatch(task_id=task_id, dataset_name=tasks[0].dataset_name, data=part))
        return outputs

    def _write_edges(self, edges: pa.Table) -> None:
        """Write the pairs (sorted) to ``<edges_path>/pairs.parquet`` through a temporary file."""
        ordered = edges.sort_by([(self.id_field, "ascending"), (PAIR_ID_FIELD, "ascending")])
        fs, root = fsspec.core.url_to_fs(self.edges_path)
        fs.makedirs(root, exist_ok=True)
        final, temporary = f"{root}/pairs.parquet", f"{root}/.pairs.parquet.tmp"
        with fs.open(temporary, "wb") as handle:
            pq.write_table(ordered, handle)
        fs.mv(temporary, final)


class ConnectedComponentsStage(ProcessingStage[FileGroupTask, FileGroupTask]):
    """NeMo Curator 1.4's `ConnectedComponentsStage` on CPUs: edge files in, id -> group file out.

    A barrier: the edges of every input `FileGroupTask` (``source_field`` and
    ``destination_field``, by default ``_curator_dedup_id_x`` / ``_y`` as `BucketsToEdgesStage`
    writes them) are read together, repeated edges dropped, and the weakly connected components
    of the undirected graph found with SciPy. Every document that has an edge is written with
    its component, ``_curator_dedup_id`` and ``_duplicate_group_id`` (components numbered from
    0 in the order of their smallest id), to
    ``<output_path>/ConnectedComponentsStage/<first task id>.parquet``; one output
    `FileGroupTask` with `num_vertices` in its metadata.
    """

    _name = "ConnectedComponentsStage"

    def __init__(
        self,
        output_path: str,
        source_field: str | None = None,
        destination_field: str | None = None,
        read_kwargs: dict | None = None,
        write_kwargs: dict | None = None,
    ) -> None:
        self.source_field = source_field or f"{CURATOR_DEDUP_ID_STR}_x"
        self.destination_field = destination_field or f"{CURATOR_DEDUP_ID_STR}_y"
        self.read_kwargs = dict(read_kwargs or {})
        self.write_kwargs = dict(write_kwargs or {})
        self.output_path = join_path(output_path, self._name)
        create_or_overwrite_dir(self.output_path, storage_options_of(self.write_kwargs))

    def inputs(self) -> tuple[list[str], list[str]]:
        return ["data"], []

    def outputs(self) -> tuple[list[str], list[str]]:
        return ["data"], []

    def ray_stage_spec(self) -> dict[str, Any]:
        return {RayStageSpecKeys.IS_BARRIER: True}

    def process(self, task: FileGroupTask) -> list[FileGroupTask]:
        return self.process_batch([task])

    def process_batch(self, tasks: list[FileGroupTask]) -> list[FileGroupTask]:
        if not tasks:
            return []
        columns = [self.source_field, self.destination_field]
        edges = pa.concat_tables(
            [read_files(file_group_of(t, self.name), self.name, "parquet", columns, self.read_kwargs) for t in tasks],
            promote_options="default",
        )
        source = edges.column(self.source_field)
        ids = pa.chunked_array([*source.chunks, *edges.column(self.destination_field).cast(source.type).chunks])
        universe = sorted_unique(ids) if len(ids) else pa.array([], source.type)
        nodes = pc.index_in(ids, value_set=universe).to_numpy(zero_copy_only=False).astype(np.int64)
        half = edges.num_rows
        pairs = np.unique(np.stack([nodes[:half], nodes[half:]], axis=1), axis=0) if half else np.empty((0, 2))
        labels = component_labels(pairs[:, 0].astype(np.int64), pairs[:, 1].astype(np.int64), len(universe))
        # nodes are numbered in id order; renumber components by their smallest member
        _, first_node, group = np.unique(labels, return_index=True, return_inverse=True)
        rank = np.empty(len(first_node), dtype=np.int64)
        rank[np.argsort(first_node)] = np.arange(len(first_node))
        result = pa.table(
            {
                CURATOR_DEDUP_ID_STR: universe,
                CURATOR_FUZZY_DUPLICATE_GROUP_FIELD: pa.array(rank[group] if len(group) else [], pa.int64()),
            }
        )
        path = join_path(self.output_path, f"{tasks[0].task_id}.parquet")
        kwargs = dict(self.write_kwargs)
        storage_options = kwargs.pop("storage_options", None)
        write_parquet_atomic(result, path, storage_options, **kwargs)
        self._log_metrics({"num_edges": edges.num_rows, "num_vertices": result.num_rows})
        logger.info("stage '%s': %d edges, %d documents in %d groups", self.name, half, len(universe), len(rank))
        return [
            FileGroupTask(
                task_id=f"{self.name}-{tasks[0].task_id}",
                dataset_name=tasks[0].dataset_name,
                data=[path],
                _metadata={"storage_options": storage_options, "num_vertices": result.num_rows},
            )
        ]
