"""Cost of the nesting-depth scan that runs before every JSONL parse.

Times `too_deep_lines` (the scan) against `parse_jsonl` (scan + pyarrow parse) on generated
JSON Lines: plain prose, and prose full of brackets (code-like text, where more lines need the
exact scan). Target: the scan costs a small fraction of the parse on prose.

    .venv/bin/python benchmarks/bench_jsonl_depth_scan.py [--mb 20] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import random
import time

from raycurator.stages.text.io.reader._jsonl_parse import parse_jsonl, too_deep_lines

WORDS = "curation pipeline document language quality dataset training tokenizer filtering streaming".split()
CODE = ["{", "}", "[", "]", "f(x)", "a[i]", "{k: v}", "[[1, 2], [3]]"]


def corpus(megabytes: float, brackets: bool, seed: int = 7) -> bytes:
    rng = random.Random(seed)
    vocabulary = WORDS + (CODE * 3 if brackets else [])
    lines, size, index = [], 0, 0
    while size < megabytes * 1024 * 1024:
        text = " ".join(rng.choices(vocabulary, k=rng.randint(20, 300)))
        line = json.dumps({"id": index, "text": text, "meta": {"tags": [["a"], ["b"]]}})
        lines.append(line)
        size += len(line) + 1
        index += 1
    return ("\n".join(lines) + "\n").encode()


def best(function, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=20.0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    for label, brackets in (("prose", False), ("bracket-heavy", True)):
        data = corpus(args.mb, brackets)
        scan = best(lambda data=data: too_deep_lines(data), args.repeat)
        parse = best(lambda data=data: parse_jsonl(data, "bench.jsonl"), args.repeat)
        mb = len(data) / 1024 / 1024
        print(
            f"{label:14s} {mb:6.1f} MB  scan {scan:6.3f} s ({mb / scan:7.0f} MB/s)  "
            f"scan+parse {parse:6.3f} s  scan share {100 * scan / parse:4.1f}%"
        )


if __name__ == "__main__":
    main()
