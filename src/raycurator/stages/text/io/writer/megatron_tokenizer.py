"""`MegatronTokenizerWriter`: tokenizes a text column into Megatron `.bin`/`.idx` file pairs."""

from __future__ import annotations

import logging
from typing import Any

import pyarrow as pa

from raycurator.stages.file_partitioning import RUN_ID_KEY
from raycurator.stages.text._batch import require_document_batch
from raycurator.stages.text._local_tokenizer import LocalTokenizer, load_local_tokenizer
from raycurator.stages.text.io._fs import is_local, url_to_fs
from raycurator.stages.text.io.writer._files import (
    join_inside,
)
from raycurator.stages.text.io.writer._indexed_dataset import encode_bin, encode_idx, token_dtype
from raycurator.stages.text.io.writer.base import BaseWriter
from raycurator.tasks import DocumentBatch, FileGroupTask

logger = logging.getLogger(__name__)

#: `transformers_init_kwargs` keys understood here (the tokenizer loads with `tokenizers`, not `transformers`).
SUPPORTED_INIT_KWARGS = frozenset({"eos_token"})


class MegatronTokenizerWriter(BaseWriter):
    """Writes each batch's `text_field` as token ids in Megatron's indexed-dataset format.

    One `<task id>.bin` / `<task id>.idx` pair per task (one sequence per document), named and
    written like the other writers (deterministic names, atomic writes, collision checks).
    `model_identifier` is a local `tokenizer.json` or a folder holding one (relative to
    `cache_dir` when given); nothing is downloaded. `append_eod` adds the tokenizer's
    end-of-document token after every document (turned off, with a warning, when the tokenizer
    has none). Token ids are stored as uint16 when the vocabulary has at most 65,536 entries,
    else int32. Custom metrics: `tokens`, `documents`, `bytes_written`.
    """

    def __init__(
        self,
        path: str,
        model_identifier: str | None = None,
        cache_dir: str | None = None,
        hf_token: str | None = None,
        text_field: str = "text",
        tokenization_batch_size: int = 1000,
        append_eod: bool = False,
        transformers_init_kwargs: dict[str, Any] | None = None,
        file_extension: list[str] | None = None,
        write_kwargs: dict[str, Any] | None = None,
        storage_options: dict[str, Any] | None = None,
        mode: str = "ignore",
    ) -> None:
        super().__init__(
            path=path, file_extension="bin", write_kwargs=write_kwargs, storage_options=storage_options, mode=mode
        )
        if self.write_kwargs:
            raise ValueError(f"MegatronTokenizerWriter: unsupported write_kwargs {sorted(self.write_kwargs)}")
        if not model_identifier:
            raise ValueError("MegatronTokenizerWriter: model_identifier (a local tokenizer.json or folder) is required")
        if hf_token is not None:
            raise ValueError(
                "MegatronTokenizerWriter: hf_token is not used; tokenizers are loaded from local files only"
            )
        init_kwargs = dict(transformers_init_kwargs or {})
        for key, message in (
            ("cache_dir", "pass cache_dir to the stage directly"),
            ("token", "tokenizers are loaded from local files only"),
            ("local_files_only", "tokenizers are always loaded from local files"),
        ):
            if key in init_kwargs:
                raise ValueError(f"MegatronTokenizerWriter: transformers_init_kwargs[{key!r}] not allowed: {message}")
        unknown = sorted(set(init_kwargs) - SUPPORTED_INIT_KWARGS)
        if unknown:
            raise ValueError(
                f"MegatronTokenizerWriter: unsupported transformers_init_kwargs {unknown}; "
                f"supported: {sorted(SUPPORTED_INIT_KWARGS)}"
            )
        if not isinstance(tokenization_batch_size, int) or tokenization_batch_size < 1:
            raise ValueError(
                "MegatronTokenizerWriter: tokenization_batch_size must be a positive int, "
                f"got {tokenization_batch_size!r}"
            )
        extensions = list(file_extension) if file_extension is not None else [".bin", ".idx"]
        if sorted(e.lstrip(".") for e in extensions) != ["bin", "idx"]:
            raise ValueError(f"MegatronTokenizerWriter: file_extension must be ['.bin', '.idx'], got {extensions!r}")
        # `file_extension` stays "bin" (BaseWriter names the .bin file); the .idx file shares its stem.
        self.file_extensions = [".bin", ".idx"]
        self.model_identifier = model_identifier
        self.cache_dir = cache_dir
        self.text_field = text_field
        self.tokenization_batch_size = tokenization_batch_size
        self.append_eod = append_eod
        self.transformers_init_kwargs = init_kwargs
        self._tokenizer: LocalTokenizer | None = None
        self._name = "megatron_tokenizer_writer"

    def inputs(self) -> tuple[list[str], list[str]]:
        return ["data"], [self.text_field]

    def _load(self) -> LocalTokenizer:
        tokenizer = load_local_tokenizer(
            self.model_identifier, self.cache_dir, self.transformers_init_kwargs.get("eos_token")
        )
        if self.append_eod and tokenizer.eos_token_id is None:
            logger.warning(
                "stage '%s': tokenizer %s has no end-of-document token; append_eod is turned off",
                self.name,
                self.model_identifier,
            )
            self.append_eod = False
        return tokenizer

    def setup_on_node(self, node_info: Any = None, worker_metadata: Any = None) -> None:
        load_local_tokenizer(self.model_identifier, self.cache_dir, self.transformers_init_kwargs.get("eos_token"))

    def setup(self, worker_metadata: Any = None) -> None:
        super().setup(worker_metadata)
        self._tokenizer = self._load()

    def serialize(self, table: pa.Table) -> bytes:
        raise NotImplementedError("MegatronTokenizerWriter writes two files per task; see process()")

    def tokenize(self, texts: list[str]) -> list[list[int]]:
        """Token ids of each text (plus the end-of-document id when `append_eod`)."""
        tokenizer = self._tokenizer or self._load()
        self._tokenizer = tokenizer
        sequences: list[list[int]] = []
        for start in range(0, len(texts), self.tokenization_batch_size):
            sequences.extend(tokenizer.encode_batch(texts[start : start + self.tokenization_batch_size]))
        if self.append_eod and tokenizer.eos_token_id is not None:
            for sequence in sequences:
                sequence.append(tokenizer.eos_token_id)
        return sequences

    def process(self, task: DocumentBatch) -> FileGroupTask:
        table = require_document_batch(self.name, task).to_pyarrow()
        texts = table[self.text_field].to_pylist()
        bad = next((i for i, text in enumerate(texts) if not isinstance(text, str)), None)
        if bad is not None:
            raise ValueError(
                f"stage '{self.name}': task '{task.task_id}' row {bad} has no text in '{self.text_field}' "
                f"(source files: {task.source_files})"
            )
        sequences = self.tokenize(texts)
        tokenizer = self._tokenizer
        assert tokenizer is not None
        dtype = token_dtype(tokenizer.vocab_size)
        lengths = [len(sequence) for sequence in sequences]
        payloads = {".bin": encode_bin(sequences, dtype), ".idx": encode_idx(lengths, dtype)}

        fs, root = url_to_fs(self.path, self.storage_options)
        stem = self.file_name(task)[: -len(".bin")]
        run_id = str(task._metadata.get(RUN_ID_KEY) or "")
        written: list[str] = []
        # .bin first, .idx last: a reader that finds the .idx finds a complete .bin beside it.
        for extension in self.file_extensions:
            name = stem + extension
            rows = len(lengths) if extension == ".bin" else 0  # the documents are counted once, on the .bin
            self._write_one(fs, root, name, payloads[extension], rows, task.task_id, run_id)
            target = join_inside(root, name)
            written.append(target if is_local(fs) else fs.unstrip_protocol(target))
        tokens = sum(lengths)
        self._log_metrics(
            {
                "tokens": tokens,
                "documents": len(lengths),
                "rows_written": len(lengths),
                "bytes_written": sum(len(p) for p in payloads.values()),
            }
        )
        metadata = dict(task._metadata)
        metadata.setdefault("source_files", task.source_files)
        metadata.update(
            {
                "format": "megatron",
                "file_prefix": written[0][: -len(".bin")],
                "num_tokens": tokens,
                "token_size": dtype.itemsize,
                "eod_token_id": tokenizer.eos_token_id if tokenizer.eos_token_id is not None else -1,
            }
        )
        return task.derive_as(FileGroupTask, written, _metadata=metadata)
