"""Prepare `examples/handoff.yaml`: train a small tokenizer on the corpus and write evaluation sets.

    python examples/prepare_handoff.py                                   # on examples/data/sample.jsonl
    python examples/prepare_handoff.py --corpus demo_output/curated      # on the demo's curated output

Writes, under --out (default demo_output/handoff):
- tokenizer/: a byte-level BPE tokenizer (`tokenizer.json`, vocabulary --vocab-size, end-of-document
  token `<|endoftext|>` named in `tokenizer_config.json`), trained here with the `tokenizers` library;
- eval/reading.jsonl: a pretend reading-comprehension benchmark whose passages were lifted from
  --leaked documents of the corpus (re-cased, re-spaced), so decontamination has something to find;
- eval/trivia.jsonl: questions that appear nowhere in the corpus.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

EOD = "<|endoftext|>"
TRIVIA = [
    "Which planet in the solar system has the longest day, measured as one full rotation relative to the stars?",
    "In which year did the first person walk on the surface of the moon, and what was the name of the mission?",
    "What is the name of the longest river in South America, and into which ocean does it finally flow?",
    "Which chemical element has the atomic number seventy nine and has been used for coins for thousands of years?",
    "Who wrote the novel about a captain who chases a white whale across the oceans of the world?",
]


def read_texts(corpus: Path) -> list[str]:
    files = sorted(corpus.glob("*.jsonl")) if corpus.is_dir() else [corpus]
    texts = []
    for path in files:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                texts.append(json.loads(line)["text"])
    if not texts:
        raise SystemExit(f"no documents in {corpus}")
    return texts


def train_tokenizer(texts: list[str], folder: Path, vocab_size: int) -> None:
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[EOD],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer)
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer.save(str(folder / "tokenizer.json"))
    (folder / "tokenizer_config.json").write_text(json.dumps({"eos_token": EOD}) + "\n", encoding="utf-8")


def leaked_passage(text: str, words: int = 40) -> str:
    """About `words` words from the middle of `text`, upper-cased every other word and re-spaced."""
    tokens = text.split()
    start = max(0, len(tokens) // 2 - words // 2)
    picked = tokens[start : start + words]
    return "  ".join(w.upper() if i % 2 else w for i, w in enumerate(picked))


def write_eval_sets(texts: list[str], folder: Path, leaked: int) -> int:
    folder.mkdir(parents=True, exist_ok=True)
    candidates = [t for t in texts if len(t.split()) >= 60]
    step = max(1, len(candidates) // max(leaked, 1))
    chosen = candidates[::step][:leaked]
    rows = [{"passage": leaked_passage(t)} for t in chosen]
    (folder / "reading.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    trivia = [{"question": q} for q in TRIVIA]
    (folder / "trivia.jsonl").write_text("".join(json.dumps(r) + "\n" for r in trivia), encoding="utf-8")
    return len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=Path("examples/data/sample.jsonl"))
    parser.add_argument("--out", type=Path, default=Path("demo_output/handoff"))
    parser.add_argument("--vocab-size", type=int, default=2000)
    parser.add_argument("--leaked", type=int, default=5, help="corpus documents whose passages go into the eval set")
    args = parser.parse_args()
    texts = read_texts(args.corpus)
    train_tokenizer(texts, args.out / "tokenizer", args.vocab_size)
    count = write_eval_sets(texts, args.out / "eval", args.leaked)
    print(f"tokenizer: {args.out / 'tokenizer'} (trained on {len(texts):,} documents, vocabulary {args.vocab_size})")
    print(f"eval sets: {args.out / 'eval'} ({count} passages lifted from the corpus, {len(TRIVIA)} clean questions)")


if __name__ == "__main__":
    main()
