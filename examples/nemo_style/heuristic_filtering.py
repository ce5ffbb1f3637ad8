"""Heuristic filtering of a JSONL corpus, written the way NeMo Curator's text tutorials use its API.

Read JSON Lines -> tidy the whitespace with a custom modifier -> score and filter with three
heuristic filters (word count, non-alphanumeric share, repeated top n-grams) -> write JSONL.
Every import comes from the same path as in NeMo Curator 1.4, under `raycurator`.

    python examples/nemo_style/heuristic_filtering.py --input examples/data/sample.jsonl --output out/
"""

from __future__ import annotations

import argparse
import time

from raycurator.backends.ray_actor_pool import RayActorPoolExecutor
from raycurator.pipeline import Pipeline
from raycurator.stages.text.filters import ScoreFilter
from raycurator.stages.text.filters.heuristic import (
    NonAlphaNumericFilter,
    RepeatingTopNGramsFilter,
    WordCountFilter,
)
from raycurator.stages.text.io.reader import JsonlReader
from raycurator.stages.text.io.writer import JsonlWriter
from raycurator.stages.text.modifiers import Modify
from raycurator.stages.text.modifiers.doc_modifier import DocumentModifier
from raycurator.tasks.utils import TaskPerfUtils


class CollapseWhitespace(DocumentModifier):
    """Turns every run of whitespace into one space."""

    def modify_document(self, text: str) -> str:
        return " ".join(text.split())


def build_pipeline(input_path: str, output_path: str, min_words: int) -> Pipeline:
    pipeline = Pipeline(name="heuristic_filtering", description="Clean and filter a JSONL corpus")
    pipeline.add_stage(JsonlReader(file_paths=input_path, files_per_partition=1, fields=["id", "text"]))
    pipeline.add_stage(Modify(CollapseWhitespace()))
    pipeline.add_stage(ScoreFilter(WordCountFilter(min_words=min_words), text_field="text", score_field="word_count"))
    pipeline.add_stage(ScoreFilter(NonAlphaNumericFilter(max_non_alpha_numeric_to_text_ratio=0.25), text_field="text"))
    pipeline.add_stage(ScoreFilter(RepeatingTopNGramsFilter(n=2, max_repeating_ngram_ratio=0.2), text_field="text"))
    pipeline.add_stage(JsonlWriter(path=output_path))
    return pipeline


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", default="examples/data/sample.jsonl")
    parser.add_argument("--output", default="demo_output/nemo_style/heuristic_filtering")
    parser.add_argument("--min-words", type=int, default=50)
    args = parser.parse_args()

    pipeline = build_pipeline(args.input, args.output, args.min_words)
    print(pipeline.describe())

    executor = RayActorPoolExecutor()
    start = time.perf_counter()
    results = pipeline.run(executor)
    elapsed = time.perf_counter() - start

    written = [path for task in results for path in task.data]
    stage_metrics = TaskPerfUtils.collect_stage_metrics(results)
    documents_kept = int(TaskPerfUtils.get_aggregated_stage_stat(results, "jsonl_writer", "num_items_processed"))
    print(f"Pipeline finished in {elapsed:.1f}s; {len(written)} file(s) written to {args.output}")
    for stage_name, metrics in stage_metrics.items():
        print(f"  {stage_name}: {int(metrics['num_items_processed'].sum())} item(s) in")
    print(f"documents kept: {documents_kept}")


if __name__ == "__main__":
    main()
