"""`DocumentSplitter`: one row per segment of a document, with the segment's position."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from raycurator.stages.base import ProcessingStage
from raycurator.stages.text._arrow_text import to_string_array
from raycurator.stages.text._batch import require_document_batch, set_column, with_table
from raycurator.tasks import DocumentBatch


class DocumentSplitter(ProcessingStage[DocumentBatch, DocumentBatch]):
    """Splits `text_field` on `separator`; each piece becomes a row numbered in `segment_id_field`.

    The other columns are repeated on every piece (give documents an id first, e.g. with
    `AddId`, to join them back with `DocumentJoiner`). The separator is a literal string;
    NeMo Curator hands it to pandas, which treats a separator longer than one character as a
    regular expression, so the two differ only for such separators with regex syntax in them.
    """

    def __init__(self, separator: str, text_field: str = "text", segment_id_field: str = "segment_id") -> None:
        if not isinstance(separator, str) or not separator:
            raise ValueError(f"DocumentSplitter: separator must be a non-empty string, got {separator!r}")
        self.separator = separator
        self.text_field = text_field
        self.segment_id_field = segment_id_field
        self._name = "document_splitter"

    def inputs(self) -> tuple[list[str], list[str]]:
        return ["data"], [self.text_field]

    def outputs(self) -> tuple[list[str], list[str]]:
        return ["data"], [self.text_field, self.segment_id_field]

    def process(self, task: DocumentBatch) -> DocumentBatch:
        table = require_document_batch(self.name, task).to_pyarrow()
        pieces = pc.split_pattern(to_string_array(table[self.text_field]), self.separator)
        parents = pc.list_parent_indices(pieces).to_numpy().astype(np.int64)
        counts = pc.list_value_length(pieces).to_numpy(zero_copy_only=False).astype(np.int64)
        starts = np.repeat(np.cumsum(counts) - counts, counts)
        segment_ids = np.arange(len(parents), dtype=np.int64) - starts
        out = table.take(pa.array(parents))
        out = set_column(out, self.text_field, pc.list_flatten(pieces))
        out = set_column(out, self.segment_id_field, pa.array(segment_ids))
        self._log_metric("segments_out", out.num_rows)
        return with_table(task, out)
