"""Text curation stages: I/O, filters, modifiers and modules over `DocumentBatch`es."""
