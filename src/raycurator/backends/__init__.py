"""Backends: executors that run pipelines, one folder per backend."""
