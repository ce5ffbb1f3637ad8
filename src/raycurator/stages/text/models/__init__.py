"""Model inference stages: `TokenizerStage` and the `ModelStage` base (CPU, or CUDA when given a GPU)."""

from raycurator.stages.text.models.model import ModelStage
from raycurator.stages.text.models.tokenizer import TokenizerStage

__all__ = ["ModelStage", "TokenizerStage"]
