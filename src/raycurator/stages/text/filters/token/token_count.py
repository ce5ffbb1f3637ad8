"""`TokenCountFilter`: keeps documents whose token count is within bounds (Hugging Face `tokenizers`).

The tokenizer comes from a local file (`tokenizer_file`, a `tokenizer.json`), a local model
folder holding one (`hf_model_name`, as NeMo Curator names it, but never fetched from the
Hub), or an object given directly (`tokenizer`: a `tokenizers.Tokenizer` or anything whose
`encode(text)` returns the tokens). A file is checked when the filter is built, so a wrong
path fails before any worker starts, and loaded once per worker in the stage's `setup`.
Tokens are counted as `encode` returns them, special tokens included (as NeMo Curator's
`AutoTokenizer.encode` does).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from raycurator.stages.text._arrow_text import python_texts
from raycurator.stages.text.filters.doc_filter import DocumentFilter


class TokenCountFilter(DocumentFilter):
    """Keeps documents with `min_tokens` <= tokens <= `max_tokens`. Score: number of tokens."""

    def __init__(
        self,
        tokenizer: Any = None,
        hf_model_name: str | None = None,
        hf_token: str | None = None,
        min_tokens: int = 0,
        max_tokens: int | float = math.inf,
        transformers_init_kwargs: dict[str, Any] | None = None,
        tokenizer_file: str | None = None,
    ) -> None:
        super().__init__()
        given = [x for x in (tokenizer, hf_model_name, tokenizer_file) if x is not None]
        if len(given) != 1:
            raise ValueError("TokenCountFilter: give exactly one of tokenizer, hf_model_name or tokenizer_file")
        if min_tokens > max_tokens:
            raise ValueError(f"TokenCountFilter: min_tokens ({min_tokens}) exceeds max_tokens ({max_tokens})")
        self._token_count_filter_tokenizer = tokenizer
        self._hf_model_name = hf_model_name
        self._hf_token = hf_token
        self._min_tokens = min_tokens
        self._max_tokens = max_tokens
        self._transformers_init_kwargs = dict(transformers_init_kwargs or {})
        self._tokenizer_file = self._resolve_file(tokenizer_file, hf_model_name) if tokenizer is None else None
        self._name = "token_count"

    @staticmethod
    def _resolve_file(tokenizer_file: str | None, model_dir: str | None) -> str:
        path = Path(tokenizer_file) if tokenizer_file is not None else Path(str(model_dir)) / "tokenizer.json"
        if not path.is_file():
            where = "tokenizer_file" if tokenizer_file is not None else "hf_model_name (a local model folder)"
            raise FileNotFoundError(
                f"TokenCountFilter: {where}: no tokenizer file at {str(path)!r} (the Hugging Face Hub is not used)"
            )
        return str(path)

    def load_tokenizer(self) -> None:
        """Load the tokenizer file (once per worker; a tokenizer object given directly is kept)."""
        if self._token_count_filter_tokenizer is None:
            from tokenizers import Tokenizer

            try:
                self._token_count_filter_tokenizer = Tokenizer.from_file(self._tokenizer_file)
            except Exception as error:
                message = f"TokenCountFilter: cannot load tokenizer {self._tokenizer_file!r}: {error}"
                raise ValueError(message) from error

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        if state.get("_tokenizer_file"):
            state["_token_count_filter_tokenizer"] = None  # reloaded from the file on the worker
        return state

    def score_document(self, text: str) -> int:
        self.load_tokenizer()
        return len(self._token_count_filter_tokenizer.encode(text))

    def score_documents(self, texts: Any) -> np.ndarray:
        self.load_tokenizer()
        tokenizer = self._token_count_filter_tokenizer
        values = python_texts(texts)
        if hasattr(tokenizer, "encode_batch"):
            return np.array([len(e) for e in tokenizer.encode_batch(values)], dtype=np.float64)
        return np.array([len(tokenizer.encode(v)) for v in values], dtype=np.float64)

    def keep_document(self, score: int) -> bool:
        return self._min_tokens <= score <= self._max_tokens
