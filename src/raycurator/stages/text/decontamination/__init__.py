"""Benchmark decontamination: `NGramDecontaminator` and its shared n-gram index."""

from raycurator.stages.text.decontamination.decontaminator import DecontaminationAction, NGramDecontaminator

__all__ = ["DecontaminationAction", "NGramDecontaminator"]
