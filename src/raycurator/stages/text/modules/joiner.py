"""`DocumentJoiner`: joins the segments of each document back into one row (inverse of `DocumentSplitter`)."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pyarrow as pa

from raycurator.stages.base import ProcessingStage
from raycurator.stages.text._batch import require_document_batch, with_table
from raycurator.tasks import DocumentBatch


class DocumentJoiner(ProcessingStage[DocumentBatch, DocumentBatch]):
    """Joins rows sharing `document_id_field`, in `segment_id_field` order, with `separator`.

    Other columns keep the first segment's value. With `max_length` (and `length_field`,
    holding each segment's length) consecutive segments are joined only while the joined
    length (lengths plus separators) stays within `max_length`, giving several rows per
    document numbered again from 0. All segments of a document must be in the same batch.
    Output rows are ordered by document id, as in NeMo Curator.
    """

    def __init__(
        self,
        separator: str = "\n\n",
        text_field: str = "text",
        segment_id_field: str = "segment_id",
        document_id_field: str = "id",
        drop_segment_id_field: bool = True,
        max_length: int | None = None,
        length_field: str | None = None,
    ) -> None:
        if (max_length is None) != (length_field is None):
            raise ValueError("DocumentJoiner: max_length and length_field must be given together (or neither)")
        self.separator = separator
        self.text_field = text_field
        self.segment_id_field = segment_id_field
        self.document_id_field = document_id_field
        self.drop_segment_id_field = drop_segment_id_field
        self.max_length = max_length
        self.length_field = length_field
        self._name = "document_joiner"

    def inputs(self) -> tuple[list[str], list[str]]:
        fields = [self.text_field, self.segment_id_field, self.document_id_field]
        return ["data"], fields + ([self.length_field] if self.length_field else [])

    def outputs(self) -> tuple[list[str], list[str]]:
        fields = [self.text_field, self.document_id_field]
        if not self.drop_segment_id_field:
            fields.append(self.segment_id_field)
        return ["data"], fields + ([self.length_field] if self.length_field else [])

    def _join_group(self, group: pd.DataFrame) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        current: dict[str, Any] | None = None
        for record in group.sort_values(self.segment_id_field, kind="stable").to_dict("records"):
            if current is not None:
                joined = current[self.length_field] + record[self.length_field] + len(self.separator)
                if joined <= self.max_length:
                    current[self.text_field] += self.separator + record[self.text_field]
                    current[self.length_field] = joined
                    continue
                rows.append(current)
            current = dict(record)
            current[self.segment_id_field] = len(rows)
        if current is not None:
            rows.append(current)
        return rows

    def process(self, task: DocumentBatch) -> DocumentBatch:
        df = require_document_batch(self.name, task).to_pandas()
        if df.empty:
            return task
        if self.max_length is None:
            ordered = df.sort_values(self.segment_id_field, kind="stable")
            aggregations: dict[str, Any] = {
                col: (lambda texts: self.separator.join(texts.astype(str))) if col == self.text_field else "first"
                for col in ordered.columns
                if col != self.document_id_field
            }
            joined = ordered.groupby(self.document_id_field, as_index=False, sort=True).agg(aggregations)
        else:
            groups = [self._join_group(g) for _, g in df.groupby(self.document_id_field, sort=True)]
            joined = pd.DataFrame([row for group in groups for row in group], columns=df.columns)
        if self.drop_segment_id_field and self.segment_id_field in joined.columns:
            joined = joined.drop(columns=self.segment_id_field)
        return with_table(task, pa.Table.from_pandas(joined.reset_index(drop=True), preserve_index=False))
