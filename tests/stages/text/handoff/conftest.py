"""Makes the data helpers next to these tests importable (pytest runs in importlib mode)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from handoff_data import license_texts, train_tokenizer  # noqa: E402


@pytest.fixture(scope="session")
def small_tokenizer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A byte-level BPE tokenizer (vocabulary 800, `<|endoftext|>`) trained here on license texts; its folder."""
    folder = tmp_path_factory.mktemp("tokenizer")
    train_tokenizer(license_texts()[:40], folder, vocab_size=800)
    return folder
