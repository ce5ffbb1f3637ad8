"""NeMo Curator 1.4's `shuffle_utils` path; the hash shuffle lives in `raycurator.stages.shuffle`."""
