"""`TokenizerStage`: text to token ids with a Hugging Face tokenizer loaded from disk.

Rows come out unpadded (`input_ids` as variable-length lists; the model stage pads each
inference batch to its longest row), sorted by token count when `sort_by_length` (the
original order is kept in `_curator_seq_order` and restored by the model stage). Documents
whose text is null or blank are dropped and counted (`num_empty_text_skipped`): they have no
meaning to embed. Texts longer than `max_seq_length` tokens are truncated and counted
(`num_truncated`); `max_chars` cuts the text before tokenizing.
"""

from __future__ import annotations

import itertools
import json
import logging
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from raycurator.errors import StageInputError
from raycurator.stages.base import ProcessingStage
from raycurator.stages.deduplication.common import table_of, with_batch
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

#: Above this, a tokenizer's `model_max_length` is a placeholder, not a real limit.
_UNSET_MAX_LENGTH = 100_000


def _check_kwargs(kwargs: dict[str, Any], forbidden: dict[str, str]) -> dict[str, Any]:
    for key, advice in forbidden.items():
        if key in kwargs:
            raise ValueError(f"transformers_init_kwargs must not hold '{key}': {advice}")
    return dict(kwargs)


def default_max_seq_length(model_path: str, tokenizer_limit: int) -> int:
    """The token limit of a model: its sentence-transformers setting, else the tokenizer's, else
    the model's position embeddings."""
    config_file = Path(model_path) / "sentence_bert_config.json"
    if config_file.is_file():
        value = json.loads(config_file.read_text(encoding="utf-8")).get("max_seq_length")
        if value:
            return int(value)
    if tokenizer_limit <= _UNSET_MAX_LENGTH:
        return tokenizer_limit
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(model_path, local_files_only=True)
    return int(getattr(config, "max_position_embeddings", 512))


class TokenizerStage(ProcessingStage[DocumentBatch, DocumentBatch]):
    """Tokenizes `text_field` into `input_ids` / `attention_mask` with the model's own tokenizer.

    Args:
        model_identifier: a model directory, a zip of one, or an installed model package's name.
        cache_dir, hf_token: accepted for API compatibility; models are only read from disk.
        text_field: the column holding the text.
        max_chars: cut each text to this many characters before tokenizing (None: no cut).
        max_seq_length: keep at most this many tokens (None: the tokenizer's own limit).
        padding_side: "right" or "left"; used by the model stage when it pads.
        sort_by_length: sort rows by token count (faster inference) and record the order.
        unk_token: use the tokenizer's unknown token as padding token.
        transformers_init_kwargs: more arguments for `AutoTokenizer.from_pretrained`.
    """

    def __init__(
        self,
        model_identifier: str,
        cache_dir: str | None = None,
        hf_token: str | None = None,
        text_field: str = "text",
        max_chars: int | None = None,
        max_seq_length: int | None = None,
        padding_side: Literal["left", "right"] = "right",
        sort_by_length: bool = True,
        unk_token: bool = False,
        transformers_init_kwargs: dict[str, Any] | None = None,
    ) -> None:
        if padding_side not in ("left", "right"):
            raise ValueError(f"padding_side must be 'left' or 'right', got {padding_side!r}")
        if max_seq_length is not None and max_seq_length < 2:
            raise ValueError(f"max_seq_length must be at least 2, got {max_seq_length}")
        self.model_identifier = model_identifier
        self.model_path = resolve_model_path(model_identifier)  # fails here, before any worker starts
        self.cache_dir = cache_dir
        self.hf_token = hf_token
        self.text_field = text_field
        self.max_chars = max_chars
        self.max_seq_length = max_seq_length
        self.padding_side = padding_side
        self.sort_by_length = sort_by_length
        self.unk_token = unk_token
        self.transformers_init_kwargs = _check_kwargs(
            transformers_init_kwargs or {},
            {
                "cache_dir": "pass cache_dir to the stage",
                "padding_side": "pass padding_side to the stage",
                "local_files_only": "models are always read from disk",
            },
        )
        self._name = format_name_with_suffix(model_identifier, "_tokenizer")
        self.tokenizer: Any = None

    def inputs(self) -> tuple[list[str], list[str]]:
        return ["data"], [self.text_field]

    def outputs(self) -> tuple[list[str], list[str]]:
        order = [SEQ_ORDER_FIELD] if self.sort_by_length else []
        return ["data"], [self.text_field, INPUT_ID_FIELD, ATTENTION_MASK_FIELD, *order]

    def setup_on_node(self, node_info: Any = None, worker_metadata: Any = None) -> None:
        self.model_path = resolve_model_path(self.model_identifier)  # extracts an archive once per node

    def setup(self, worker_metadata: Any = None) -> None:
        from transformers import AutoTokenizer

        use_offline_mode()
        self.model_path = resolve_model_path(self.model_identifier)
        self.tokenizer = AutoTokenizer.from_pretrained(
            self.model_path, padding_side=self.padding_side, local_files_only=True, **self.transformers_init_kwargs
        )
        if self.unk_token:
            self.tokenizer.pad_token = self.tokenizer.unk_token
        if self.max_seq_length is None:
            self.max_seq_length = default_max_seq_length(self.model_path, int(self.tokenizer.model_max_length))

    def process(self, task: DocumentBatch) -> DocumentBatch | None:
        if self.tokenizer is None:
            self.setup()
        table = table_of(task, self.name)
        column = table.column(self.text_field)
        textual = pa.types.is_string(column.type) or pa.types.is_large_string(column.type)
        if not (textual or pa.types.is_null(column.type)):
            raise StageInputError(
                f"stage '{self.name}': task '{task.task_id}' column '{self.text_field}' holds {column.type}, not text"
            )
        if pa.types.is_null(column.type):
            column = column.cast(pa.string())
        blank = pc.equal(pc.utf8_length(pc.utf8_trim_whitespace(pc.fill_null(column, ""))), 0)
        skipped = int(pc.sum(blank).as_py() or 0)
        if skipped:
            table = table.filter(pc.invert(blank))
            logger.debug("stage '%s': task '%s': %d blank text(s) skipped", self.name, task.task_id, skipped)
        self._log_metric("num_empty_text_skipped", skipped)
        if table.num_rows == 0:
            return None
        texts = table.column(self.text_field).cast(pa.string()).to_pylist()
        if self.max_chars is not None and self.max_chars > 0:
            texts = [t[: self.max_chars] for t in texts]
        encoded = self.tokenizer(
            texts,
            truncation=True,
            max_length=self.max_seq_length,
            add_special_tokens=True,
            return_attention_mask=False,
            return_token_type_ids=False,
        )
        ids = encoded["input_ids"]
        encodings = getattr(encoded, "encodings", None) or []
        self._log_metric("num_truncated", sum(1 for e in encodings if e.overflowing))
        lengths = np.fromiter((len(row) for row in ids), dtype=np.int64, count=len(ids))
        self._log_metric("num_tokens", int(lengths.sum()))
        offsets = np.zeros(len(ids) + 1, dtype=np.int32)
        np.cumsum(lengths, out=offsets[1:])
        flat = np.fromiter(itertools.chain.from_iterable(ids), dtype=np.int32, count=int(offsets[-1]))
        id_array = pa.ListArray.from_arrays(pa.array(offsets), pa.array(flat))
        mask_array = pa.ListArray.from_arrays(pa.array(offsets), pa.array(np.ones(len(flat), dtype=np.int8)))
        out = table.append_column(INPUT_ID_FIELD, id_array).append_column(ATTENTION_MASK_FIELD, mask_array)
        if self.sort_by_length:
            out = out.append_column(SEQ_ORDER_FIELD, pa.array(np.arange(out.num_rows, dtype=np.int64)))
            out = out.take(pa.array(np.argsort(lengths, kind="stable")))
        return with_batch(task, out)
