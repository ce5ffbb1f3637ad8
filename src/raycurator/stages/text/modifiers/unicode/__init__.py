"""Unicode modifiers under NeMo Curator's module path (`stages.text.modifiers.unicode`)."""

from raycurator.stages.text.modifiers.unicode.unicode_reformatter import UnicodeReformatter

__all__ = ["UnicodeReformatter"]
