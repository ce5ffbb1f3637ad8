"""Training a fastText quality classifier from labelled JSONL, for `FastTextQualityFilter`.

Each JSONL record holds a text and a label (e.g. `{"text": "...", "label": "hq"}`); labels
become fastText labels (`hq` -> `__label__hq`). The records are shuffled with `seed`, a
`valid_fraction` of each label is held out, a supervised model is trained on the rest
(one thread by default, so the same data and seed give the same model) and the held-out
documents measure precision and recall of the positive label. The model is written
atomically (a temporary file in the same folder, then a rename).
"""

from __future__ import annotations

import json
import logging
import os
import random
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from raycurator.stages.text.filters.fasttext.model_file import check_model_file, import_fasttext
from raycurator.stages.text.modifiers.fasttext.fasttext_label import fasttext_line

logger = logging.getLogger(__name__)

_LABEL_PREFIX = "__label__"
_LR_RETRIES = 4


class TrainingDataError(ValueError):
    """The labelled training data cannot be used; the message names the file and line."""


@dataclass(frozen=True)
class QualityTrainingParams:
    """fastText's supervised-training settings (see fastText's `train_supervised`)."""

    epoch: int = 5
    lr: float = 0.1
    dim: int = 64
    word_ngrams: int = 2
    min_count: int = 1
    bucket: int = 200_000
    threads: int = 1


@dataclass(frozen=True)
class ClassifierScores:
    """Precision and recall of the positive label on held-out documents."""

    positive_label: str
    true_positives: int
    false_positives: int
    false_negatives: int
    true_negatives: int

    @property
    def precision(self) -> float:
        predicted = self.true_positives + self.false_positives
        return self.true_positives / predicted if predicted else 0.0

    @property
    def recall(self) -> float:
        actual = self.true_positives + self.false_negatives
        return self.true_positives / actual if actual else 0.0

    @property
    def accuracy(self) -> float:
        total = self.true_positives + self.false_positives + self.false_negatives + self.true_negatives
        return (self.true_positives + self.true_negatives) / total if total else 0.0


@dataclass(frozen=True)
class QualityTrainingResult:
    """What `train_quality_classifier` did."""

    model_path: str
    train_counts: dict[str, int]
    valid_counts: dict[str, int]
    skipped: dict[str, int] = field(default_factory=dict)
    scores: ClassifierScores | None = None
    seconds: float = 0.0
    learning_rate: float = 0.0


@dataclass(frozen=True)
class _Example:
    label: str
    line: str


def _input_files(inputs: str | os.PathLike[str] | Sequence[str | os.PathLike[str]]) -> list[Path]:
    items = [inputs] if isinstance(inputs, str | os.PathLike) else list(inputs)
    files: list[Path] = []
    for item in items:
        path = Path(item)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*.jsonl") if p.is_file())
            if not found:
                raise TrainingDataError(f"folder '{path}' holds no .jsonl file")
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            raise TrainingDataError(f"training data '{path}' not found")
    if not files:
        raise TrainingDataError("no training data given")
    return files


def _label_of(value: Any, where: str, label_field: str) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise TrainingDataError(f"{where}: '{label_field}' must be a string (or integer) label, got {value!r}")
    label = str(value).removeprefix(_LABEL_PREFIX)
    if not label or any(c.isspace() for c in label):
        raise TrainingDataError(f"{where}: label {value!r} is empty or contains spaces")
    return label


def read_labelled_jsonl(
    files: Iterable[Path], text_field: str, label_field: str, skipped: Counter[str]
) -> list[_Example]:
    """The (label, one-line text) examples of JSONL files; empty texts are counted in `skipped`."""
    examples: list[_Example] = []
    for file in files:
        with open(file, encoding="utf-8", errors="strict") as handle:
            try:
                for number, raw in enumerate(handle, start=1):
                    where = f"{file}, line {number}"
                    if not raw.strip():
                        skipped["blank_line"] += 1
                        continue
                    try:
                        record = json.loads(raw)
                    except json.JSONDecodeError as error:
                        raise TrainingDataError(f"{where}: malformed JSON ({error.msg})") from None
                    if not isinstance(record, dict):
                        raise TrainingDataError(f"{where}: expected a JSON object, got {type(record).__name__}")
                    for name in (text_field, label_field):
                        if name not in record:
                            raise TrainingDataError(f"{where}: no '{name}' field (fields: {sorted(record)})")
                    text = record[text_field]
                    if not isinstance(text, str):
                        raise TrainingDataError(f"{where}: '{text_field}' must be a string, got {type(text).__name__}")
                    label = _label_of(record[label_field], where, label_field)
                    line = " ".join(fasttext_line(text).split())
                    if not line:
                        skipped["empty_text"] += 1
                        continue
                    examples.append(_Example(label, line))
            except UnicodeDecodeError as error:
                raise TrainingDataError(f"{file}: not UTF-8 text ({error})") from None
    return examples


def _split(
    examples: list[_Example], valid_fraction: float, seed: int
) -> tuple[list[_Example], list[_Example]]:
    """Shuffled train and held-out examples; each label keeps `valid_fraction` of its documents aside."""
    rng = random.Random(seed)
    by_label: dict[str, list[_Example]] = {}
    for example in examples:
        by_label.setdefault(example.label, []).append(example)
    train: list[_Example] = []
    valid: list[_Example] = []
    for label in sorted(by_label):
        items = by_label[label]
        rng.shuffle(items)
        held = round(len(items) * valid_fraction) if len(items) > 1 else 0
        valid.extend(items[:held])
        train.extend(items[held:])
    rng.shuffle(train)
    return train, valid


def _train(fasttext: Any, train_file: Path, params: QualityTrainingParams, seed: int) -> tuple[Any, float]:
    """Train; when fastText diverges ("Encountered NaN") retry with half the learning rate, up to 4 times."""
    lr = params.lr
    for attempt in range(_LR_RETRIES + 1):
        try:
            model = fasttext.train_supervised(
                input=str(train_file),
                epoch=params.epoch,
                lr=lr,
                dim=params.dim,
                wordNgrams=params.word_ngrams,
                minCount=params.min_count,
                bucket=params.bucket,
                thread=params.threads,
                seed=seed,
                verbose=0,
            )
            return model, lr
        except RuntimeError as error:
            if "NaN" not in str(error) or attempt == _LR_RETRIES:
                raise RuntimeError(f"fastText training failed (last learning rate {lr}): {error}") from error
            logger.warning("fastText training diverged with lr=%s; retrying with lr=%s", lr, lr / 2)
            lr /= 2
    raise AssertionError("unreachable")


def evaluate(model: Any, examples: Sequence[_Example], positive_label: str) -> ClassifierScores:
    """Precision/recall of `positive_label` (the model's top label) on `examples`."""
    counts = Counter()
    batch = 2048
    for start in range(0, len(examples), batch):
        chunk = examples[start : start + batch]
        labels, _ = model.predict([example.line for example in chunk], k=1)
        for example, predicted in zip(chunk, labels, strict=True):
            said = predicted[0].removeprefix(_LABEL_PREFIX) == positive_label
            actual = example.label == positive_label
            counts[(said, actual)] += 1
    return ClassifierScores(
        positive_label,
        true_positives=counts[(True, True)],
        false_positives=counts[(True, False)],
        false_negatives=counts[(False, True)],
        true_negatives=counts[(False, False)],
    )


def train_quality_classifier(
    inputs: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    output_path: str | os.PathLike[str],
    *,
    text_field: str = "text",
    label_field: str = "label",
    positive_label: str = "hq",
    valid_fraction: float = 0.1,
    seed: int = 42,
    params: QualityTrainingParams | None = None,
) -> QualityTrainingResult:
    """Train a fastText quality classifier on labelled JSONL (files or folders) and write it to `output_path`.

    `FastTextQualityFilter(output_path, label="__label__" + positive_label)` then uses it.
    Raises `TrainingDataError` naming the file and line for unusable records; empty texts
    and blank lines are skipped and counted.
    """
    started = time.monotonic()
    params = params or QualityTrainingParams()
    if not 0.0 <= valid_fraction < 1.0:
        raise ValueError(f"valid_fraction must lie in [0, 1), got {valid_fraction}")
    positive_label = positive_label.removeprefix(_LABEL_PREFIX)
    fasttext = import_fasttext(training=True)
    skipped: Counter[str] = Counter()
    examples = read_labelled_jsonl(_input_files(inputs), text_field, label_field, skipped)
    labels = Counter(example.label for example in examples)
    if len(labels) < 2:
        raise TrainingDataError(f"training needs documents of at least two labels, found {dict(labels) or 'none'}")
    if positive_label not in labels:
        raise TrainingDataError(
            f"positive label '{positive_label}' does not occur in the data (labels: {dict(labels)})"
        )
    train, valid = _split(examples, valid_fraction, seed)
    output = Path(output_path)
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="raycurator-train-") as scratch:
        train_file = Path(scratch) / "train.txt"
        with open(train_file, "w", encoding="utf-8") as handle:
            handle.writelines(f"{_LABEL_PREFIX}{example.label} {example.line}\n" for example in train)
        model, lr_used = _train(fasttext, train_file, params, seed)
    scores = evaluate(model, valid, positive_label) if valid else None
    partial = output.with_name(f".{output.name}.tmp-{os.getpid()}")
    try:
        model.save_model(str(partial))
        check_model_file(partial)
        os.replace(partial, output)
    finally:
        partial.unlink(missing_ok=True)
    result = QualityTrainingResult(
        model_path=str(output),
        train_counts=dict(sorted(Counter(e.label for e in train).items())),
        valid_counts=dict(sorted(Counter(e.label for e in valid).items())),
        skipped=dict(skipped),
        scores=scores,
        seconds=time.monotonic() - started,
        learning_rate=lr_used,
    )
    logger.info("trained quality classifier %s: %s", output, result)
    return result
