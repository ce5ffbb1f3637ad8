"""`ExclusionWriter`: where filtering stages record the documents they remove, and why.

Like DataTrove's exclusion writer: every removed row is written, with all its columns, plus
`excluded_by` (the filter's name) and `exclusion_score` (its score), to
`<path>/<stage name>/<task id>.<jsonl|parquet>`. File names are deterministic and every file
is written atomically (temporary file + rename), so a retried or resumed task rewrites the
same file instead of adding a second one. Counts per reason are also logged as the stage's
custom metrics (`removed_by_<filter>`), which the run report shows per stage.
"""

from __future__ import annotations

import io
import posixpath
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from raycurator.stages.text.io._fs import url_to_fs
from raycurator.stages.text.io.writer._files import atomic_write, file_stem, join_inside
from raycurator.stages.text.io.writer._json_encode import table_to_jsonl

#: Column naming the filter that removed a row.
EXCLUDED_BY = "excluded_by"
#: Column holding that filter's score of the row.
EXCLUSION_SCORE = "exclusion_score"
#: The label of the exclusion folder among a stage's side outputs (see the run report).
EXCLUDED_DOCUMENTS = "excluded documents"


@dataclass
class ExclusionWriter:
    """Writes the rows a filtering stage removes to `path` (local folder or fsspec URL)."""

    path: str
    file_type: Literal["jsonl", "parquet"] = "jsonl"
    storage_options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.path, str) or not self.path:
            raise ValueError(f"ExclusionWriter: path must be a non-empty string, got {self.path!r}")
        if self.file_type not in ("jsonl", "parquet"):
            raise ValueError(f"ExclusionWriter: file_type must be 'jsonl' or 'parquet', got {self.file_type!r}")

    def output_file(self, stage_name: str, task_id: str) -> str:
        """The file that holds what `stage_name` removed from task `task_id`."""
        _, root = url_to_fs(self.path, self.storage_options)
        folder = join_inside(root, file_stem(stage_name))
        return join_inside(folder, f"{file_stem(task_id)}.{self.file_type}")

    def write(self, stage_name: str, task_id: str, removed: list[tuple[pa.Table, str, np.ndarray]]) -> int:
        """Write `(rows, filter name, their scores)` parts as one file; returns the rows written.

        Nothing is written when no row was removed.
        """
        parts = [_annotated(rows, name, scores) for rows, name, scores in removed if rows.num_rows]
        if not parts:
            return 0
        table = pa.concat_tables(parts, promote_options="permissive")
        if self.file_type == "jsonl":
            data = table_to_jsonl(table)
        else:
            sink = io.BytesIO()
            pq.write_table(table, sink)
            data = sink.getvalue()
        fs, root = url_to_fs(self.path, self.storage_options)
        folder = join_inside(root, file_stem(stage_name))
        atomic_write(fs, posixpath.join(folder, f"{file_stem(task_id)}.{self.file_type}"), data)
        return table.num_rows


def _annotated(rows: pa.Table, name: str, scores: np.ndarray) -> pa.Table:
    if scores.dtype == object:
        values = pa.array(["" if s is None else str(s) for s in scores], pa.string())
    else:
        values = pa.array(np.asarray(scores, dtype=np.float64)).cast(pa.string())
    for column, value in ((EXCLUDED_BY, pa.array([name] * rows.num_rows, pa.string())), (EXCLUSION_SCORE, values)):
        index = rows.schema.get_field_index(column)
        rows = rows.set_column(index, column, value) if index >= 0 else rows.append_column(column, value)
    return rows
