"""Writers: one JSON Lines or Parquet file per `DocumentBatch`."""

from raycurator.stages.text.io.writer._files import OutputCollisionError
from raycurator.stages.text.io.writer.base import BaseWriter
from raycurator.stages.text.io.writer.jsonl import JsonlWriter
from raycurator.stages.text.io.writer.parquet import ParquetWriter

__all__ = ["BaseWriter", "JsonlWriter", "OutputCollisionError", "ParquetWriter"]
