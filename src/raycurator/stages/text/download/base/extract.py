"""`DocumentExtractor`: turns one raw record (a dict) into the output row, or None to drop it."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from raycurator.stages.text.download.base.skips import SkipCounter


class DocumentExtractor(SkipCounter, ABC):
    """Transforms a record from a `DocumentIterator` into a row of the output.

    Return None to drop the record; call `self._count_skip(reason)` first so the drop is
    counted under that reason in the run's metrics.
    """

    @abstractmethod
    def extract(self, record: dict[str, Any]) -> dict[str, Any] | None:
        """The output row made from `record`, or None to drop it."""

    @abstractmethod
    def input_columns(self) -> list[str]:
        """The record keys this extractor reads."""

    @abstractmethod
    def output_columns(self) -> list[str]:
        """The keys of the rows it returns."""
