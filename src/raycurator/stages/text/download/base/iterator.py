"""`DocumentIterator` (what users subclass) and the stage that iterates files and extracts rows."""

from __future__ import annotations

import logging
import os
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from raycurator.errors import RayCuratorError
from raycurator.stages.base import ProcessingStage
from raycurator.stages.text.download.base.extract import DocumentExtractor
from raycurator.stages.text.download.base.skips import SkipCounter, SkipReason
from raycurator.stages.text.download.base.time_limit import RecordTimeoutError, RecordTimer
from raycurator.tasks import DocumentBatch, FileGroupTask

logger = logging.getLogger(__name__)

#: The default name of the column holding each row's source file name.
DEFAULT_FILENAME_COLUMN = "file_name"


class IterationError(RayCuratorError):
    """A file could not be iterated; names the stage, task, file and record."""


def resolve_filename_column(add_filename_column: bool | str) -> str | None:
    """The file-name column's name: `file_name` for True, None for False, else the string given."""
    if add_filename_column is True:
        return DEFAULT_FILENAME_COLUMN
    if add_filename_column is False or add_filename_column is None:
        return None
    if isinstance(add_filename_column, str) and add_filename_column:
        return add_filename_column
    raise ValueError(f"add_filename_column must be a bool or a column name, got {add_filename_column!r}")


class DocumentIterator(SkipCounter, ABC):
    """Yields the raw records (dicts) of one local file.

    Records that cannot be used are skipped with `self._count_skip(reason)`; an exception
    stops the file and fails its task with an error naming the file and record.
    """

    @abstractmethod
    def iterate(self, file_path: str) -> Iterator[dict[str, Any]]:
        """The records of `file_path`."""

    @abstractmethod
    def output_columns(self) -> list[str]:
        """The keys of the records it yields."""


class DocumentIterateExtractStage(ProcessingStage[FileGroupTask, DocumentBatch]):
    """Iterates each file of a task, extracts each record and returns one `DocumentBatch`.

    Counts are logged as custom metrics: `records` (rows out) and `skipped.<reason>` for
    every record dropped by the iterator, the extractor, the time limit
    (`record_timeout_s`, per record) or an extractor error. A task without rows yields none.
    """

    def __init__(
        self,
        iterator: DocumentIterator,
        extractor: DocumentExtractor | None = None,
        record_limit: int | None = None,
        add_filename_column: bool | str = True,
        max_calls_per_worker: int | None = None,
        record_timeout_s: float | None = 60.0,
    ) -> None:
        if record_limit is not None and (not isinstance(record_limit, int) or record_limit < 1):
            raise ValueError(f"record_limit must be a positive int, got {record_limit!r}")
        self.iterator = iterator
        self.extractor = extractor
        self.record_limit = record_limit
        self.add_filename_column = add_filename_column
        self.filename_col = resolve_filename_column(add_filename_column)
        self.max_calls_per_worker = max_calls_per_worker
        self.record_timeout_s = record_timeout_s
        iterator_name = type(iterator).__name__.lower()
        if extractor is not None:
            self._name = f"iterate_extract_{iterator_name}_{type(extractor).__name__.lower()}"
        else:
            self._name = f"iterate_{iterator_name}"

    def inputs(self) -> tuple[list[str], list[str]]:
        return ["data"], []

    def outputs(self) -> tuple[list[str], list[str]]:
        columns = self.extractor.output_columns() if self.extractor else self.iterator.output_columns()
        return ["data"], list(columns) + ([self.filename_col] if self.filename_col else [])

    def setup(self, worker_metadata: Any = None) -> None:
        # Arrow's first table built from Python rows imports pandas and pyarrow.compute (about
        # 0.4 s of CPU): pay it while the worker starts, not inside its first task.
        rows_to_table([{"warm_up": None}], [])

    def _extract(
        self, record: dict[str, Any], skips: Counter[str], path: str, timer: RecordTimer
    ) -> dict[str, Any] | None:
        if self.extractor is None:
            return record
        try:
            try:
                timer.arm()
                return self.extractor.extract(record)
            finally:
                timer.disarm()  # an alarm landing here is caught below like one during extract
        except RecordTimeoutError:
            skips[SkipReason.TIMEOUT.value] += 1
            logger.warning(
                "stage '%s': record %s of %s skipped: extraction took over %s s",
                self.name, record.get("url") or record.get("id"), path, self.record_timeout_s,
            )  # fmt: skip
        except Exception as error:
            skips[SkipReason.EXTRACT_ERROR.value] += 1
            logger.warning(
                "stage '%s': record %s of %s skipped: %s: %s",
                self.name, record.get("url") or record.get("id"), path, type(error).__name__, error,
            )  # fmt: skip
        return None

    def _iterate_file(self, path: str, task: FileGroupTask, rows: list[dict[str, Any]], skips: Counter[str]) -> None:
        count = 0
        index = -1
        file_name = os.path.basename(path)
        try:
            with RecordTimer(self.record_timeout_s) as timer:
                for index, record in enumerate(self.iterator.iterate(path)):  # noqa: B007
                    if self.record_limit is not None and count >= self.record_limit:
                        break
                    extracted = self._extract(record, skips, path, timer)
                    if extracted is None:
                        continue
                    if self.filename_col:
                        extracted[self.filename_col] = file_name
                    rows.append(extracted)
                    count += 1
        except Exception as error:
            raise IterationError(
                f"stage '{self.name}': task '{task.task_id}': cannot iterate file {path} after record "
                f"{index + 1}: {type(error).__name__}: {error}"
            ) from error

    def process(self, task: FileGroupTask) -> DocumentBatch | None:
        rows: list[dict[str, Any]] = []
        skips: Counter[str] = Counter()
        for path in task.data:
            self._iterate_file(path, task, rows, skips)
        for source in (self.iterator, self.extractor):
            if source is not None:
                skips.update(source.consume_skips())
        for reason, n in sorted(skips.items()):
            self._log_metric(f"skipped.{reason}", n)
        self._log_metric("records", len(rows))
        if not rows:
            logger.info("stage '%s': task '%s' has no records (files: %s)", self.name, task.task_id, task.data)
            return None
        return task.derive_as(DocumentBatch, rows_to_table(rows, self.outputs()[1]))


def rows_to_table(rows: list[dict[str, Any]], columns: list[str]) -> pa.Table:
    """An Arrow table of `rows` with `columns` first (in order), then any other keys; all-null columns as strings."""
    table = pa.Table.from_pylist(rows)
    names = [c for c in columns if c in table.column_names]
    table = table.select(names + [c for c in table.column_names if c not in names])
    fields = [pa.field(f.name, pa.string()) if pa.types.is_null(f.type) else f for f in table.schema]
    return table.cast(pa.schema(fields))
