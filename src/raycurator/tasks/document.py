"""DocumentBatch: a table of documents."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pyarrow as pa

from raycurator.tasks.tasks import Task

if TYPE_CHECKING:  # pandas is imported only when a batch actually holds a DataFrame
    import pandas as pd


def _is_pandas(data: object) -> bool:
    return type(data).__module__.startswith("pandas") and hasattr(data, "columns")


@dataclass(repr=False)
class DocumentBatch(Task["pa.Table | pd.DataFrame"]):
    """Documents as an Arrow table (preferred) or a pandas DataFrame, one row a document."""

    def to_pyarrow(self) -> pa.Table:
        """The data as a `pyarrow.Table` (no copy when it already is one)."""
        if isinstance(self.data, pa.Table):
            return self.data
        return pa.Table.from_pandas(self.data, preserve_index=False)

    def to_pandas(self) -> pd.DataFrame:
        """The data as a `pandas.DataFrame`."""
        if _is_pandas(self.data):
            return self.data
        return self.data.to_pandas()

    def get_columns(self) -> list[str]:
        """Column names of the data."""
        if isinstance(self.data, pa.Table):
            return list(self.data.column_names)
        return [str(c) for c in self.data.columns]

    @property
    def num_items(self) -> int:
        return len(self.data)

    def validate(self) -> bool:
        return isinstance(self.data, pa.Table) or _is_pandas(self.data)

    def data_size_bytes(self) -> int:
        if isinstance(self.data, pa.Table):
            return int(self.data.nbytes)
        if _is_pandas(self.data):
            return int(self.data.memory_usage(deep=False).sum())
        return 0
