"""Text embedding stages (`EmbeddingCreatorStage` and its model stages)."""

from raycurator.stages.text.embedders.base import (
    EmbeddingCreatorStage,
    EmbeddingModelStage,
    SentenceTransformerEmbeddingModelStage,
)

__all__ = ["EmbeddingCreatorStage", "EmbeddingModelStage", "SentenceTransformerEmbeddingModelStage"]
