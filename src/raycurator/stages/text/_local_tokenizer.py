"""Loading a Hugging Face fast tokenizer from local files with the `tokenizers` library.

A tokenizer is named by a `tokenizer.json` file or by a folder holding one (a folder saved by
`transformers` or `tokenizers`). Nothing is downloaded: a name that is not a local path is an
error. The end-of-document token comes from, in order: an explicit `eos_token`, the folder's
`tokenizer_config.json` / `special_tokens_map.json`, or a special token with a well-known EOS name.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

from tokenizers import Tokenizer

#: Names of special tokens taken as end-of-document when nothing says otherwise, in order.
COMMON_EOS_TOKENS = ("<|endoftext|>", "</s>", "<eos>", "<|end_of_text|>", "<|eot_id|>", "[EOS]", "<EOS>")


@dataclass(frozen=True)
class LocalTokenizer:
    """A loaded tokenizer with its vocabulary size and end-of-document token id (None: unknown)."""

    tokenizer: Tokenizer
    path: str
    vocab_size: int
    eos_token: str | None
    eos_token_id: int | None

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        """Token ids of each text, without special tokens added."""
        return [encoding.ids for encoding in self.tokenizer.encode_batch(texts, add_special_tokens=False)]


def _token_text(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("content"), str):
        return value["content"]
    return None


def _configured_eos(folder: str) -> str | None:
    for name in ("tokenizer_config.json", "special_tokens_map.json"):
        candidate = os.path.join(folder, name)
        if os.path.isfile(candidate):
            with open(candidate, encoding="utf-8") as handle:
                token = _token_text(json.load(handle).get("eos_token"))
            if token:
                return token
    return None


def resolve_tokenizer_file(identifier: str, cache_dir: str | None = None) -> str:
    """The `tokenizer.json` path that `identifier` (a file or a folder) names; raises when there is none."""
    path = identifier
    if cache_dir and not os.path.isabs(path) and not os.path.exists(path):
        path = os.path.join(cache_dir, path)
    if os.path.isdir(path):
        path = os.path.join(path, "tokenizer.json")
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"tokenizer {identifier!r}: no local tokenizer.json at {path!r} (give a tokenizer.json file or a folder "
            "holding one; models are not downloaded at run time)"
        )
    return path


def load_local_tokenizer(identifier: str, cache_dir: str | None = None, eos_token: str | None = None) -> LocalTokenizer:
    """Load the tokenizer that `identifier` names (see the module docstring)."""
    path = resolve_tokenizer_file(identifier, cache_dir)
    try:
        tokenizer = Tokenizer.from_file(path)
    except Exception as error:
        raise ValueError(f"tokenizer {identifier!r}: cannot load {path!r}: {error}") from error
    token = eos_token or _configured_eos(os.path.dirname(path))
    if token is None:
        specials = {added.content for added in tokenizer.get_added_tokens_decoder().values() if added.special}
        token = next((name for name in COMMON_EOS_TOKENS if name in specials), None)
    token_id = tokenizer.token_to_id(token) if token is not None else None
    if token is not None and token_id is None:
        raise ValueError(f"tokenizer {identifier!r}: end-of-document token {token!r} is not in its vocabulary")
    return LocalTokenizer(
        tokenizer=tokenizer,
        path=path,
        vocab_size=tokenizer.get_vocab_size(with_added_tokens=True),
        eos_token=token,
        eos_token_id=token_id,
    )
