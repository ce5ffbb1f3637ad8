"""Real text and small tokenizers for the hand-off tests.

Real human-written text: the license files shipped by installed Python packages.
"""

from __future__ import annotations

import importlib.metadata
import json
from functools import cache
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

LICENSE_PACKAGES = (
    "numpy", "pandas", "pyarrow", "requests", "urllib3", "jinja2", "click", "scipy", "torch", "fsspec",
    "psutil", "rich", "typer", "pyyaml", "xxhash", "idna", "certifi", "spacy", "ray", "tokenizers",
)  # fmt: skip


@cache
def license_texts() -> list[str]:
    """The text of every license file of `LICENSE_PACKAGES` that is installed (sorted, de-duplicated)."""
    seen: set[str] = set()
    for name in LICENSE_PACKAGES:
        try:
            dist = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            continue
        for file in dist.files or []:
            upper = str(file).upper()
            if "LICEN" in upper or "COPYING" in upper or "NOTICE" in upper:
                path = Path(dist.locate_file(file))
                if path.is_file() and path.stat().st_size < 200_000:
                    text = path.read_text(encoding="utf-8", errors="replace").strip()
                    if len(text) > 200:
                        seen.add(text)
    return sorted(seen)


def train_tokenizer(texts: list[str], folder: Path, vocab_size: int = 800) -> Path:
    """Train a byte-level BPE tokenizer with `<|endoftext|>` on `texts`; save it (and its config) in `folder`."""
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=["<|endoftext|>", "<pad>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer)
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer.save(str(folder / "tokenizer.json"))
    (folder / "tokenizer_config.json").write_text(json.dumps({"eos_token": "<|endoftext|>"}), encoding="utf-8")
    return folder
