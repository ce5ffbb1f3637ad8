"""`UnicodeReformatter` (ftfy based); defined in `raycurator.stages.text.modifiers.unicode`."""

from raycurator.stages.text.modifiers.unicode.unicode_reformatter import UnicodeReformatter

__all__ = ["UnicodeReformatter"]
