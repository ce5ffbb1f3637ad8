"""`TokenCountFilter` under NeMo Curator's module path (`filters.token`)."""

from raycurator.stages.text.filters.token.token_count import TokenCountFilter

__all__ = ["TokenCountFilter"]
