"""fastText-related modifiers: training labels and language codes from language-ID scores."""

from raycurator.stages.text.modifiers.fasttext.fasttext_label import FastTextLabelModifier, fasttext_line
from raycurator.stages.text.modifiers.fasttext.language_code import LangIdLanguageModifier

__all__ = ["FastTextLabelModifier", "LangIdLanguageModifier", "fasttext_line"]
