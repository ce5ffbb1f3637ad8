"""Readers: JSON Lines and Parquet files into `DocumentBatch`es."""

from raycurator.stages.text.io.reader.base import BaseReader, BaseReaderStage
from raycurator.stages.text.io.reader.jsonl import JsonlReader, JsonlReaderStage
from raycurator.stages.text.io.reader.parquet import ParquetReader, ParquetReaderStage

__all__ = [
    "BaseReader",
    "BaseReaderStage",
    "JsonlReader",
    "JsonlReaderStage",
    "ParquetReader",
    "ParquetReaderStage",
]
