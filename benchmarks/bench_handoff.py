"""Throughput of the hand-off stages in one process, on the demo corpus generator's documents.

Measures documents/s and MB/s of `PiiRedactor` (pattern types), `NGramDecontaminator` (13-grams,
index of 2,000 evaluation passages), `CorpusStatistics` and `MegatronTokenizerWriter` (a BPE
tokenizer of 8,000 entries trained here), and the decontamination index's size on disk: the
memory every worker on a node shares through the page cache instead of holding a copy.
Rates are per CPU second of this process (wall time is printed too: on a shared machine it
mostly measures the other load). Run: `python benchmarks/bench_handoff.py [--docs N]`.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import pyarrow as pa
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from raycurator.cli.corpus import make_documents
from raycurator.stages.text.decontamination import NGramDecontaminator
from raycurator.stages.text.io.writer.megatron_tokenizer import MegatronTokenizerWriter
from raycurator.stages.text.pii import PiiRedactor
from raycurator.stages.text.statistics import CorpusStatistics
from raycurator.tasks import DocumentBatch


def train(texts: list[str], folder: Path) -> None:
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=8000, special_tokens=["<|endoftext|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tokenizer.train_from_iterator(texts, trainer)
    tokenizer.save(str(folder / "tokenizer.json"))


def timed(label: str, stage, batches: list[DocumentBatch], megabytes: float) -> None:
    stage.setup()
    started, cpu_started = time.perf_counter(), time.process_time()
    for batch in batches:
        stage.process(batch)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    documents = sum(b.num_items for b in batches)
    print(f"{label:28} {documents / cpu:10,.0f} docs/CPU-s {megabytes / cpu:8.2f} MB/CPU-s "
          f"(CPU {cpu:.2f} s, wall {elapsed:.2f} s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--docs", type=int, default=6000)
    args = parser.parse_args()
    texts = [d["text"] for d in make_documents(args.docs, seed=7)]
    megabytes = sum(len(t.encode()) for t in texts) / 1e6
    batches = [
        DocumentBatch(task_id=f"b{i}", dataset_name="bench", data=pa.table({"text": texts[i : i + 500]}))
        for i in range(0, len(texts), 500)
    ]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        eval_texts = [d["text"] for d in make_documents(2000, seed=99)]
        (root / "eval.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in eval_texts))
        train(texts[:2000], root)
        print(f"{len(texts):,} documents, {megabytes:.1f} MB")
        timed("PiiRedactor (patterns)", PiiRedactor(salt="bench"), batches, megabytes)
        decontaminator = NGramDecontaminator([str(root / "eval.jsonl")], index_dir=str(root / "index"))
        started = time.perf_counter()
        decontaminator.setup_on_node()
        build = time.perf_counter() - started
        index_bytes = sum(p.stat().st_size for p in (root / "index").rglob("*.npy"))
        print(f"{'n-gram index build':28} {build:.2f} s, {index_bytes / 1e6:.1f} MB on disk (shared, memory-mapped)")
        timed("NGramDecontaminator", decontaminator, batches, megabytes)
        timed("CorpusStatistics (+tokens)", CorpusStatistics(tokenizer=str(root)), batches, megabytes)
        writer = MegatronTokenizerWriter(str(root / "out"), model_identifier=str(root), append_eod=True)
        timed("MegatronTokenizerWriter", writer, batches, megabytes)


if __name__ == "__main__":
    main()
