"""`ModelStage`: batched inference of a Hugging Face model over tokenized documents.

Rows arrive sorted by token count (see `TokenizerStage`); inference batches are cut from
that order so each is padded only to its own longest row, and are bounded both in rows
(`model_inference_batch_size`) and in padded tokens (`max_tokens_per_batch`, which keeps
CPU memory in check). The worker computes on CUDA when the stage asks for a GPU
(`Resources(gpus=...)`) and Ray gives it one, on the CPU otherwise (`device.choose_device`);
the choice is logged and recorded as the metrics `device_cuda` and `gpus_assigned`.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Iterator
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from raycurator.errors import StageInputError
from raycurator.stages.base import ProcessingStage
from raycurator.stages.deduplication.common import table_of, with_batch
from raycurator.stages.resources import Resources
from raycurator.stages.text.models.device import DeviceChoice, DeviceKind, choose_device, limit_cpu_threads
from raycurator.stages.text.models.utils import (
    ATTENTION_MASK_FIELD,
    INPUT_ID_FIELD,
    SEQ_ORDER_FIELD,
    format_name_with_suffix,
    resolve_model_path,
    use_offline_mode,
)
from raycurator.tasks import DocumentBatch

logger = logging.getLogger(__name__)

#: Padded tokens per inference batch on the CPU when `max_tokens_per_batch` is not given.
CPU_TOKENS_PER_BATCH = 16384


def pad_batch(
    values: np.ndarray,
    offsets: np.ndarray,
    pad_id: int,
    padding_side: Literal["left", "right"],
    max_seq_length: int | None,
) -> tuple[np.ndarray, np.ndarray]:
    """(ids, mask) int64 arrays of shape (rows, longest row), padded on `padding_side`.

    `values`/`offsets` are the flattened token lists of the rows; rows longer than
    `max_seq_length` keep their first (right padding) or last (left padding) tokens.
    """
    lengths = np.diff(offsets).astype(np.int64)
    kept = np.minimum(lengths, max_seq_length) if max_seq_length else lengths
    width = int(kept.max()) if len(kept) else 0
    columns = np.arange(width, dtype=np.int64)[None, :]
    starts = offsets[:-1].astype(np.int64)[:, None]
    if padding_side == "right":
        valid = columns < kept[:, None]
        source = starts + columns
    else:
        lead = (width - kept)[:, None]
        valid = columns >= lead
        source = starts + (lengths - kept)[:, None] + (columns - lead)
    ids = np.full((len(kept), width), pad_id, dtype=np.int64)
    ids[valid] = values[source[valid]]
    return ids, valid.astype(np.int64)


class ModelStage(ProcessingStage[DocumentBatch, DocumentBatch]):
    """Base of the model stages: loads a model from disk, runs it over token batches.

    Subclasses implement `_setup` (load `self.model` onto `self.device`), `outputs`,
    `process_model_output` and `create_output_table`.

    Args:
        model_identifier: a model directory, a zip of one, or an installed model package's name.
        cache_dir, hf_token: accepted for API compatibility; models are only read from disk.
        model_inference_batch_size: at most this many rows per forward pass.
        has_seq_order: the input carries `_curator_seq_order` (restore that order on output).
        padding_side: "right" or "left".
        max_seq_length: clip token lists to this length before the forward pass (None: as given).
        unpack_inference_batch: call the model with keyword arguments instead of one dict.
        autocast: use mixed precision on CUDA (ignored on the CPU).
        max_tokens_per_batch: at most this many padded tokens per forward pass (None: 16,384 on
            the CPU, no token bound on CUDA).
    """

    def __init__(
        self,
        model_identifier: str,
        cache_dir: str | None = None,
        hf_token: str | None = None,
        model_inference_batch_size: int = 256,
        has_seq_order: bool = True,
        padding_side: Literal["left", "right"] = "right",
        max_seq_length: int | None = None,
        unpack_inference_batch: bool = False,
        autocast: bool = True,
        max_tokens_per_batch: int | None = None,
    ) -> None:
        if padding_side not in ("left", "right"):
            raise ValueError(f"padding_side must be 'left' or 'right', got {padding_side!r}")
        if model_inference_batch_size < 1:
            raise ValueError(f"model_inference_batch_size must be positive, got {model_inference_batch_size}")
        self.model_identifier = model_identifier
        self.model_path = resolve_model_path(model_identifier)  # fails here, before any worker starts
        self.cache_dir = cache_dir
        self.hf_token = hf_token
        self.model_inference_batch_size = model_inference_batch_size
        self.has_seq_order = has_seq_order
        self.padding_side = padding_side
        self.max_seq_length = max_seq_length
        self.unpack_inference_batch = unpack_inference_batch
        self.autocast = autocast
        self.max_tokens_per_batch = max_tokens_per_batch
        self._name = format_name_with_suffix(model_identifier, "_model")
        self._resources = Resources(cpus=1.0)
        self.model: Any = None
        self.device_choice: DeviceChoice | None = None
        self.pad_token_id = 0

    @property
    def device(self) -> str:
        """The torch device of this worker ("cpu" until `setup` chose one)."""
        return self.device_choice.torch_device if self.device_choice else DeviceKind.CPU.value

    def inputs(self) -> tuple[list[str], list[str]]:
        order = [SEQ_ORDER_FIELD] if self.has_seq_order else []
        return ["data"], [INPUT_ID_FIELD, ATTENTION_MASK_FIELD, *order]

    def outputs(self) -> tuple[list[str], list[str]]:
        raise NotImplementedError

    def setup_on_node(self, node_info: Any = None, worker_metadata: Any = None) -> None:
        self.model_path = resolve_model_path(self.model_identifier)  # extracts an archive once per node

    def setup(self, worker_metadata: Any = None) -> None:
        use_offline_mode()
        self.model_path = resolve_model_path(self.model_identifier)
        self.device_choice = choose_device(self.resources)
        logger.info("stage '%s': %s", self.name, self.device_choice.reason)
        if self.device_choice.kind is DeviceKind.CPU:
            limit_cpu_threads(self.resources)
        self._setup()

    def _setup(self) -> None:
        """Load `self.model` onto `self.device` (and set `self.pad_token_id`)."""
        raise NotImplementedError

    def teardown(self) -> None:
        self.model = None
        gc.collect()
        if self.device == DeviceKind.CUDA.value:
            import torch

            torch.cuda.empty_cache()

    # -- inference -----------------------------------------------------------------------------
    def _token_budget(self) -> int | None:
        if self.max_tokens_per_batch is not None:
            return self.max_tokens_per_batch
        return CPU_TOKENS_PER_BATCH if self.device == DeviceKind.CPU.value else None

    def iter_batch_bounds(self, lengths: np.ndarray) -> Iterator[tuple[int, int]]:
        """(start, end) row ranges of the inference batches: bounded in rows and padded tokens."""
        budget = self._token_budget()
        limit = self.max_seq_length
        start, n = 0, len(lengths)
        while start < n:
            end = min(start + self.model_inference_batch_size, n)
            if budget is not None:
                longest = 0
                for i in range(start, end):
                    row = min(int(lengths[i]), limit) if limit else int(lengths[i])
                    longest = max(longest, row)
                    if longest * (i - start + 1) > budget and i > start:
                        end = i
                        break
            yield start, end
            start = end

    def yield_next_batch(self, table: pa.Table) -> Iterator[dict[str, Any]]:
        """Model inputs (`input_ids`, `attention_mask` tensors on the device), batch by batch."""
        import torch

        ids = table.column(INPUT_ID_FIELD).combine_chunks()
        if not (pa.types.is_list(ids.type) or pa.types.is_large_list(ids.type)):
            raise StageInputError(
                f"stage '{self.name}': column '{INPUT_ID_FIELD}' must hold token lists, got {ids.type}"
            )
        offsets = ids.offsets.to_numpy(zero_copy_only=False).astype(np.int64)
        offsets = offsets - offsets[0]
        values = pc.list_flatten(ids).to_numpy(zero_copy_only=False)
        lengths = np.diff(offsets)
        for start, end in self.iter_batch_bounds(lengths):
            batch_ids, mask = pad_batch(
                values, offsets[start : end + 1], self.pad_token_id, self.padding_side, self.max_seq_length
            )
            yield {
                INPUT_ID_FIELD: torch.from_numpy(batch_ids).to(self.device),
                ATTENTION_MASK_FIELD: torch.from_numpy(mask).to(self.device),
            }

    def _model_forward(self, batch: dict[str, Any]) -> Any:
        return self.model(**batch) if self.unpack_inference_batch else self.model(batch)

    def process_model_output(self, outputs: Any, model_input_batch: dict[str, Any] | None = None) -> np.ndarray:
        raise NotImplementedError

    def collect_outputs(self, processed_outputs: list[np.ndarray]) -> np.ndarray:
        return np.concatenate(processed_outputs, axis=0)

    def create_output_table(self, table: pa.Table, collected_output: np.ndarray) -> pa.Table:
        raise NotImplementedError

    def process(self, task: DocumentBatch) -> DocumentBatch | None:
        import torch

        if self.model is None:
            self.setup()
        table = table_of(task, self.name)
        if table.num_rows == 0:
            return None
        processed: list[np.ndarray] = []
        use_autocast = self.autocast and self.device == DeviceKind.CUDA.value
        with torch.inference_mode():
            for batch in self.yield_next_batch(table):
                if use_autocast:
                    with torch.autocast(device_type="cuda"):
                        outputs = self._model_forward(batch)
                else:
                    outputs = self._model_forward(batch)
                processed.append(self.process_model_output(outputs, batch))
        out = self.create_output_table(table, self.collect_outputs(processed))
        out = out.drop_columns([c for c in (INPUT_ID_FIELD, ATTENTION_MASK_FIELD) if c in out.column_names])
        if self.has_seq_order and SEQ_ORDER_FIELD in out.column_names:
            out = out.take(pc.sort_indices(out.column(SEQ_ORDER_FIELD))).drop_columns([SEQ_ORDER_FIELD])
        self._log_metrics(
            {
                "num_embedded": out.num_rows,
                "device_cuda": 1.0 if self.device == DeviceKind.CUDA.value else 0.0,
                "gpus_assigned": float(len(self.device_choice.gpu_ids)) if self.device_choice else 0.0,
            }
        )
        return with_batch(task, out)
