"""Utilities at NeMo Curator 1.4's `utils` paths (the lowest layer, beside `perf`)."""
