"""NeMo Curator 1.4's `shuffle_utils` path: the file-based `stage.ShuffleStage` (the in-memory hash
shuffle it builds on is `raycurator.stages.shuffle`)."""
