"""The `raycurator` command line: YAML pipelines, the demo and run reports."""
