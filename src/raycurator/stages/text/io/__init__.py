"""Reading and writing documents: JSON Lines and Parquet, local paths and fsspec URLs."""

from raycurator.stages.text.io.reader import JsonlReader, ParquetReader
from raycurator.stages.text.io.writer import JsonlWriter, ParquetWriter

__all__ = ["JsonlReader", "JsonlWriter", "ParquetReader", "ParquetWriter"]
