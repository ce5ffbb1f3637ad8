"""The n-gram index of evaluation sets: built once per node into memory-mapped files, shared by its workers.

Layout, in `<index_dir>/<key>/`: `hashes.npy` (sorted uint64 n-gram hashes), `tasks.npy` (uint16,
the evaluation task of each hash) and `meta.json` (task names, n-gram sizes, counts). `key` is a
digest of the evaluation files' contents and the indexing parameters, so a changed evaluation
set gets a new index. The folder is built under a temporary name and renamed into place: the
first builder wins, concurrent builders on the same node discard their copy, and readers open
the arrays with `numpy.load(mmap_mode="r")`, so every worker on the node shares the same pages.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import uuid
from dataclasses import dataclass
from typing import Any

import numpy as np

from raycurator.stages.text.decontamination.ngrams import ngram_hashes, normalized_words, word_hashes
from raycurator.stages.text.io._fs import read_bytes

logger = logging.getLogger(__name__)

INDEX_FORMAT = 1


@dataclass(frozen=True)
class IndexSpec:
    """What an index is built from: task name → JSONL files, the fields indexed, the n-gram sizes."""

    tasks: tuple[tuple[str, tuple[str, ...]], ...]
    fields: tuple[str, ...]
    ngram_size: int
    min_ngram_size: int


@dataclass
class NGramIndex:
    """A loaded index: sorted hashes with their tasks, the task names and the n-gram sizes to look up."""

    hashes: np.ndarray
    tasks: np.ndarray
    task_names: list[str]
    sizes: list[int]
    path: str

    def lookup(self, hashes: np.ndarray) -> np.ndarray:
        """A bool per hash: whether it is in the index."""
        if not len(self.hashes) or not len(hashes):
            return np.zeros(len(hashes), dtype=bool)
        positions = np.searchsorted(self.hashes, hashes)
        positions[positions == len(self.hashes)] = 0
        return self.hashes[positions] == hashes

    def tasks_of(self, hashes: np.ndarray) -> set[str]:
        """The task names of the indexed `hashes`."""
        values = np.unique(hashes)
        left = np.searchsorted(self.hashes, values, side="left")
        right = np.searchsorted(self.hashes, values, side="right")
        found = {int(t) for lo, hi in zip(left, right, strict=True) for t in np.unique(self.tasks[lo:hi])}
        return {self.task_names[t] for t in found}


def _records(path: str, line_error: str) -> list[dict[str, Any]]:
    records = []
    for number, line in enumerate(read_bytes(path).decode("utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise ValueError(f"{line_error}: {path} line {number}: not JSON ({error.msg})") from None
        if not isinstance(record, dict):
            raise ValueError(f"{line_error}: {path} line {number}: not a JSON object")
        records.append(record)
    return records


def index_key(spec: IndexSpec) -> str:
    """A digest of the evaluation files' contents and the parameters."""
    digest = hashlib.sha256(json.dumps([INDEX_FORMAT, spec.fields, spec.ngram_size, spec.min_ngram_size]).encode())
    for name, paths in spec.tasks:
        digest.update(name.encode() + b"\x00")
        for path in paths:
            digest.update(hashlib.sha256(read_bytes(path, compression=None)).digest())
    return digest.hexdigest()[:32]


def _build_arrays(spec: IndexSpec, owner: str) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    chunks: list[np.ndarray] = []
    task_ids: list[np.ndarray] = []
    sizes = {spec.ngram_size}
    counts: dict[str, dict[str, int]] = {}
    for task_index, (name, paths) in enumerate(spec.tasks):
        stats = counts.setdefault(name, {"records": 0, "texts": 0, "too_short": 0})
        for path in paths:
            for record in _records(path, owner):
                stats["records"] += 1
                for field in spec.fields:
                    value = record.get(field)
                    values = value if isinstance(value, list) else [value]
                    for text in values:
                        if not isinstance(text, str) or not text.strip():
                            continue
                        stats["texts"] += 1
                        words = normalized_words(text)
                        size = min(spec.ngram_size, len(words))
                        if size < spec.min_ngram_size:
                            stats["too_short"] += 1
                            continue
                        sizes.add(size)
                        grams = ngram_hashes(word_hashes(words), size)
                        chunks.append(grams)
                        task_ids.append(np.full(len(grams), task_index, dtype=np.uint16))
    hashes = np.concatenate(chunks) if chunks else np.empty(0, dtype=np.uint64)
    tasks = np.concatenate(task_ids) if task_ids else np.empty(0, dtype=np.uint16)
    order = np.lexsort((tasks, hashes))
    meta = {
        "format": INDEX_FORMAT,
        "task_names": [name for name, _ in spec.tasks],
        "sizes": sorted(sizes),
        "ngrams": len(hashes),
        "tasks": counts,
    }
    return hashes[order], tasks[order], meta


def ensure_index(spec: IndexSpec, index_dir: str, owner: str = "NGramDecontaminator") -> str:
    """The folder of the index for `spec` under `index_dir`, built there first when missing."""
    if len(spec.tasks) > np.iinfo(np.uint16).max:
        raise ValueError(f"{owner}: at most 65,535 evaluation tasks")
    final = os.path.join(index_dir, index_key(spec))
    if os.path.isfile(os.path.join(final, "meta.json")):
        return final
    os.makedirs(index_dir, exist_ok=True)
    hashes, tasks, meta = _build_arrays(spec, owner)
    staging = tempfile.mkdtemp(prefix=f".{uuid.uuid4().hex}.", dir=index_dir)
    try:
        np.save(os.path.join(staging, "hashes.npy"), hashes)
        np.save(os.path.join(staging, "tasks.npy"), tasks)
        with open(os.path.join(staging, "meta.json"), "w", encoding="utf-8") as handle:
            json.dump(meta, handle)
        try:
            os.rename(staging, final)
            logger.info("%s: built n-gram index %s (%d n-grams)", owner, final, meta["ngrams"])
        except OSError:
            if not os.path.isfile(os.path.join(final, "meta.json")):
                raise
    finally:
        if os.path.isdir(staging):
            shutil.rmtree(staging, ignore_errors=True)  # another builder won the race
    for name, stats in meta["tasks"].items():
        if stats["too_short"]:
            logger.warning(
                "%s: task %s: %d of %d texts have fewer than %d words and are not indexed",
                owner, name, stats["too_short"], stats["texts"], spec.min_ngram_size,
            )  # fmt: skip
    return final


def load_index(path: str) -> NGramIndex:
    """Open a built index with its arrays memory-mapped (read-only, shared through the page cache)."""
    with open(os.path.join(path, "meta.json"), encoding="utf-8") as handle:
        meta = json.load(handle)
    mode = "r" if meta["ngrams"] else None  # an empty array cannot be mapped
    hashes = np.load(os.path.join(path, "hashes.npy"), mmap_mode=mode)
    tasks = np.load(os.path.join(path, "tasks.npy"), mmap_mode=mode)
    return NGramIndex(hashes=hashes, tasks=tasks, task_names=meta["task_names"], sizes=meta["sizes"], path=path)
