"""Document modifiers and the `Modify` stage that applies them."""

from raycurator.stages.text.modifiers.doc_modifier import DocumentModifier, VectorizedModifier
from raycurator.stages.text.modifiers.line_remover import LineRemover
from raycurator.stages.text.modifiers.modify import Modify
from raycurator.stages.text.modifiers.newline_normalizer import NewlineNormalizer
from raycurator.stages.text.modifiers.string import (
    BoilerPlateStringModifier,
    MarkdownRemover,
    QuotationRemover,
    Slicer,
)
from raycurator.stages.text.modifiers.unicode import UnicodeReformatter
from raycurator.stages.text.modifiers.url_remover import UrlRemover

__all__ = [
    "BoilerPlateStringModifier",
    "DocumentModifier",
    "LineRemover",
    "MarkdownRemover",
    "Modify",
    "NewlineNormalizer",
    "QuotationRemover",
    "Slicer",
    "UnicodeReformatter",
    "UrlRemover",
    "VectorizedModifier",
]
