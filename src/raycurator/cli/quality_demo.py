"""The demo's quality classifier: labelled training data from the demo corpus generator, then fastText.

High quality (`hq`) are the clean documents and their copies; low quality (`lq`) the junk kinds a
bag-of-words classifier can tell apart (boilerplate, notices, code, URL lists, hashtags, digit
tables, lorem ipsum). Too-short documents and repeated lines are left out of training: they are
made of clean sentences, so only the heuristic filters (word counts, repetition) can catch them.
The training corpus uses its own seed, so the classifier is measured on documents it never saw.
"""

from __future__ import annotations

import json
from pathlib import Path

from raycurator.cli.corpus import make_documents
from raycurator.stages.text.filters.fasttext.training import (
    QualityTrainingParams,
    QualityTrainingResult,
    train_quality_classifier,
)

#: Junk kinds left out of the classifier's training data (see the module docstring).
NOT_LEXICAL = ("junk_short", "junk_repeated")
#: Small and quick: unigrams, 32 dimensions, 20 epochs (about 3 s on one core for 600 documents).
DEMO_PARAMS = QualityTrainingParams(epoch=20, lr=1.0, dim=32, word_ngrams=1, min_count=2, bucket=0, threads=1)
DEMO_TRAINING_DOCS = 600


def write_quality_training_data(folder: Path, num_docs: int = DEMO_TRAINING_DOCS, seed: int = 1235) -> Path:
    """A labelled JSONL file (`text`, `label` = hq/lq, `kind`) of generated documents; its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "labelled.jsonl"
    with open(path, "w", encoding="utf-8") as handle:
        for doc in make_documents(num_docs, seed):
            if doc["kind"] in NOT_LEXICAL:
                continue
            label = "lq" if doc["kind"].startswith("junk_") else "hq"
            handle.write(json.dumps({"text": doc["text"], "label": label, "kind": doc["kind"]}) + "\n")
    return path


def train_demo_quality_model(folder: Path, model_path: Path, seed: int = 1235) -> QualityTrainingResult:
    """Write the demo's labelled training data under `folder` and train the classifier to `model_path`."""
    data = write_quality_training_data(folder, seed=seed)
    return train_quality_classifier(data, model_path, positive_label="hq", seed=seed, params=DEMO_PARAMS)
