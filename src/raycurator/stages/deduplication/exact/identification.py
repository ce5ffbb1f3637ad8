"""NeMo Curator 1.4's `ExactDuplicateIdentification`, on CPUs: input file groups in, duplicate-id files out.

Built from this package's exact-dedup stages: read the files of each `FileGroupTask` (text and
id only) -> ids from the id generator actor (`assign_id=True`) -> a hash of each text (raw, or
normalised with `normalize_text=True`) -> shuffle by hash, keeping the smallest id of each
group -> Parquet files of the ids to remove under ``<output_path>/ExactDuplicateIdentification``.
The output files have the id column (named like the input's) and `_duplicate_of`, the id of
the document kept in its place. The cuDF/RMM tuning parameters are accepted and have no effect.
"""

from __future__ import annotations

from typing import Any, Literal

from raycurator.stages.base import CompositeStage, ProcessingStage
from raycurator.stages.deduplication.assign_ids import AddDedupIdsFromGenerator
from raycurator.stages.deduplication.common import CURATOR_DEDUP_ID_STR
from raycurator.stages.deduplication.exact.hashing import ExactDuplicateHashStage
from raycurator.stages.deduplication.exact.identify import ExactDuplicateIdsStage
from raycurator.tasks import FileGroupTask

#: The column holding each document's hash while duplicates are grouped.
EXACT_DUPLICATE_GROUP_FIELD = "_exact_duplicate_group"

__all__ = ["EXACT_DUPLICATE_GROUP_FIELD", "ExactDuplicateIdentification"]

class ExactDuplicateIdentification(CompositeStage[FileGroupTask, FileGroupTask]):
    """Identify exact duplicates among the files of the incoming `FileGroupTask`s (see the module docstring)."""

    def __init__(
        self,
        text_field: str,
        output_path: str,
        input_filetype: Literal["jsonl", "parquet"] = "parquet",
        read_kwargs: dict[str, Any] | None = None,
        write_kwargs: dict[str, Any] | None = None,
        assign_id: bool = True,
        id_field: str | None = None,
        normalize_text: bool = False,
        total_nparts: int | None = None,
        rmm_pool_size: int | Literal["auto"] | None = "auto",
        spill_memory_limit: int | Literal["auto"] | None = "auto",
        enable_statistics: bool = False,
        use_async_memory: bool = True,
    ) -> None:
        if not assign_id and id_field is None:
            raise ValueError("ExactDuplicateIdentification: id_field must be given when assign_id is False")
        if assign_id and id_field is not None:
            raise ValueError("ExactDuplicateIdentification: id_field must be None when assign_id is True")
        if input_filetype not in ("jsonl", "parquet"):
            raise ValueError(
                f"ExactDuplicateIdentification: input_filetype must be jsonl or parquet, got {input_filetype!r}"
            )
        self.text_field = text_field
        self.input_filetype = input_filetype
        self.read_kwargs = dict(read_kwargs or {})
        self.write_kwargs = dict(write_kwargs or {})
        self.assign_id = assign_id
        self.id_field = id_field if id_field is not None else CURATOR_DEDUP_ID_STR
        self.normalize_text = normalize_text
        self.total_nparts = total_nparts
        self.output_path = "/".join([output_path.rstrip("/"), "ExactDuplicateIdentification"])
        self._name = "ExactDuplicateIdentification"

    def decompose(self) -> list[ProcessingStage]:
        from raycurator.stages.text.io.reader.jsonl import JsonlReaderStage
        from raycurator.stages.text.io.reader.parquet import ParquetReaderStage
        from raycurator.stages.text.io.writer.parquet import ParquetWriter

        read_kwargs = dict(self.read_kwargs)
        storage_options = read_kwargs.pop("storage_options", None)
        fields = [self.text_field] if self.assign_id else [self.text_field, self.id_field]
        reader_cls = JsonlReaderStage if self.input_filetype == "jsonl" else ParquetReaderStage
        stages: list[ProcessingStage] = [
            reader_cls(fields=fields, storage_options=storage_options, read_kwargs=read_kwargs or None)
        ]
        if self.assign_id:
            stages.append(AddDedupIdsFromGenerator())
        write_kwargs = dict(self.write_kwargs)
        write_storage = write_kwargs.pop("storage_options", None)
        stages += [
            ExactDuplicateHashStage(
                text_field=self.text_field,
                hash_field=EXACT_DUPLICATE_GROUP_FIELD,
                keep_columns=[self.id_field],
                normalize=self.normalize_text,
            ),
            ExactDuplicateIdsStage(
                id_field=self.id_field, hash_field=EXACT_DUPLICATE_GROUP_FIELD, num_partitions=self.total_nparts
            ),
            ParquetWriter(self.output_path, write_kwargs=write_kwargs or None, storage_options=write_storage),
        ]
        return stages

    def inputs(self) -> tuple[list[str], list[str]]:
        return ["data"], []

    def outputs(self) -> tuple[list[str], list[str]]:
        return ["data"], []
