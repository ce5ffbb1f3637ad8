"""String modifiers under NeMo Curator's module path (`stages.text.modifiers.string`)."""

from raycurator.stages.text.modifiers.line_remover import LineRemover
from raycurator.stages.text.modifiers.newline_normalizer import NewlineNormalizer
from raycurator.stages.text.modifiers.string.c4 import BoilerPlateStringModifier
from raycurator.stages.text.modifiers.string.markdown_remover import MarkdownRemover
from raycurator.stages.text.modifiers.string.quotation_remover import QuotationRemover
from raycurator.stages.text.modifiers.string.slicer import Slicer
from raycurator.stages.text.modifiers.url_remover import UrlRemover

__all__ = [
    "BoilerPlateStringModifier",
    "LineRemover",
    "MarkdownRemover",
    "NewlineNormalizer",
    "QuotationRemover",
    "Slicer",
    "UrlRemover",
]
