"""Deduplication of text documents (NeMo Curator's `stages.text.deduplication` module path)."""
