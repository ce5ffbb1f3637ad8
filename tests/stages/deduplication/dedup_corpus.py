"""Generated corpora with known injected exact and near duplicates."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import pyarrow as pa

from raycurator.tasks import DocumentBatch


def make_vocabulary(rng: random.Random, size: int = 6000) -> list[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    return ["".join(rng.choice(letters) for _ in range(rng.randint(2, 9))) for _ in range(size)]


def random_words(rng: random.Random, vocabulary: list[str], n: int) -> list[str]:
    return [vocabulary[min(int(rng.paretovariate(0.9)) - 1, len(vocabulary) - 1) if rng.random() < 0.3
            else rng.randrange(len(vocabulary))] for _ in range(n)]


def mutate(rng: random.Random, vocabulary: list[str], words: list[str], fraction: float) -> list[str]:
    """A copy of `words` with `fraction` of them replaced by random words (at least one)."""
    out = list(words)
    for index in rng.sample(range(len(out)), max(1, round(fraction * len(out)))):
        out[index] = rng.choice(vocabulary)
    return out


@dataclass
class Corpus:
    """Documents (id, text) and the ground truth of what was injected."""

    ids: list[str] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    exact_copies: dict[str, str] = field(default_factory=dict)  # copy id -> original id
    near_pairs: list[tuple[str, str]] = field(default_factory=list)  # (original id, near copy id)
    partial_pairs: list[tuple[str, str]] = field(default_factory=list)  # (original, ~half-overlap doc)

    def add(self, doc_id: str, text: str) -> None:
        self.ids.append(doc_id)
        self.texts.append(text)

    def table(self, id_field: str | None = "id") -> pa.Table:
        columns = {"text": pa.array(self.texts, type=pa.string())}
        if id_field:
            columns = {id_field: pa.array(self.ids, type=pa.string()), **columns}
        return pa.table(columns)

    def batches(self, num_batches: int, id_field: str | None = "id") -> list[DocumentBatch]:
        table = self.table(id_field)
        size = -(-table.num_rows // num_batches)
        return [
            DocumentBatch(task_id=f"batch-{i:03d}", dataset_name="corpus", data=table.slice(start, size))
            for i, start in enumerate(range(0, table.num_rows, size))
        ]


def make_corpus(
    num_originals: int = 300,
    words_per_doc: int = 300,
    num_exact: int = 40,
    num_near: int = 60,
    near_fractions: tuple[float, ...] = (0.01, 0.015),
    num_partial: int = 20,
    seed: int = 7,
) -> Corpus:
    """Originals plus injected exact copies (whitespace-varied), near copies and half-overlap docs.

    Ids are shuffled so that an injected copy is not always the larger id.
    """
    rng = random.Random(seed)
    vocabulary = make_vocabulary(rng)
    originals = [random_words(rng, vocabulary, words_per_doc) for _ in range(num_originals)]
    docs: list[tuple[str, str]] = []  # (label, text)
    labels: list[str] = []
    for i, words in enumerate(originals):
        docs.append((f"orig-{i}", " ".join(words)))
    exact_src = rng.sample(range(num_originals), num_exact)
    for j, i in enumerate(exact_src):
        text = " ".join(originals[i])
        variant = ["  " + text, text + "\n", text.replace(" ", "\n", 3), text][j % 4]
        docs.append((f"exact-{j}-of-{i}", variant))
    near_src = [rng.randrange(num_originals) for _ in range(num_near)]
    for j, i in enumerate(near_src):
        fraction = near_fractions[j % len(near_fractions)]
        docs.append((f"near-{j}-of-{i}", " ".join(mutate(rng, vocabulary, originals[i], fraction))))
    partial_src = rng.sample(range(num_originals), num_partial)
    for j, i in enumerate(partial_src):
        half = words_per_doc // 2
        words = originals[i][:half] + random_words(rng, vocabulary, words_per_doc - half)
        docs.append((f"partial-{j}-of-{i}", " ".join(words)))
    order = list(range(len(docs)))
    rng.shuffle(order)
    doc_id = {docs[k][0]: f"doc-{rank:06d}" for rank, k in enumerate(order)}
    corpus = Corpus()
    for k in sorted(range(len(docs)), key=lambda k: doc_id[docs[k][0]]):
        label, text = docs[k]
        corpus.add(doc_id[label], text)
        labels.append(label)
    for j, i in enumerate(exact_src):
        corpus.exact_copies[doc_id[f"exact-{j}-of-{i}"]] = doc_id[f"orig-{i}"]
    corpus.near_pairs = [(doc_id[f"orig-{i}"], doc_id[f"near-{j}-of-{i}"]) for j, i in enumerate(near_src)]
    corpus.partial_pairs = [
        (doc_id[f"orig-{i}"], doc_id[f"partial-{j}-of-{i}"]) for j, i in enumerate(partial_src)
    ]
    return corpus
