"""`raycurator train-quality`: train a fastText quality classifier from labelled JSONL."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from raycurator.cli.runner import EXIT_CONFIG, EXIT_OK, console, fail, setup_logging


def train_quality(
    data: Annotated[
        list[Path], typer.Argument(metavar="DATA...", help="Labelled JSONL files or folders of them.")
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write the model (.bin).")],
    text_field: Annotated[str, typer.Option("--text-field", help="The text field of each record.")] = "text",
    label_field: Annotated[str, typer.Option("--label-field", help="The label field (e.g. hq / lq).")] = "label",
    positive: Annotated[str, typer.Option("--positive", help="The high-quality label.")] = "hq",
    valid_fraction: Annotated[
        float, typer.Option("--valid-fraction", min=0.0, max=0.9, help="Share of each label held out to measure.")
    ] = 0.1,
    epoch: Annotated[int, typer.Option("--epoch", min=1, help="Training epochs.")] = 5,
    lr: Annotated[float, typer.Option("--lr", min=0.0, help="Learning rate.")] = 0.1,
    dim: Annotated[int, typer.Option("--dim", min=1, help="Vector size.")] = 64,
    word_ngrams: Annotated[int, typer.Option("--word-ngrams", min=1, help="Longest word n-gram used.")] = 2,
    min_count: Annotated[int, typer.Option("--min-count", min=1, help="Words rarer than this are ignored.")] = 1,
    bucket: Annotated[int, typer.Option("--bucket", min=0, help="Hash buckets for word n-grams.")] = 200_000,
    threads: Annotated[int, typer.Option("--threads", min=1, help="Training threads (1 is reproducible).")] = 1,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the shuffle, the split and fastText.")] = 42,
    debug: Annotated[bool, typer.Option("--debug", help="Debug logging and full tracebacks.")] = False,
) -> None:
    """Train a fastText quality classifier on labelled JSONL; FastTextQualityFilter loads the model it writes."""
    import traceback

    from raycurator.stages.text.filters.fasttext.training import (
        QualityTrainingParams,
        TrainingDataError,
        train_quality_classifier,
    )

    setup_logging(debug, quiet=not debug)
    params = QualityTrainingParams(
        epoch=epoch, lr=lr, dim=dim, word_ngrams=word_ngrams, min_count=min_count, bucket=bucket, threads=threads
    )
    try:
        result = train_quality_classifier(
            data,
            output,
            text_field=text_field,
            label_field=label_field,
            positive_label=positive,
            valid_fraction=valid_fraction,
            seed=seed,
            params=params,
        )
    except (TrainingDataError, ImportError, ValueError, OSError) as error:
        raise fail(str(error), EXIT_CONFIG, traceback.format_exc() if debug else None) from None
    out = console()

    def say(text: str) -> None:
        out.print(text, markup=False, highlight=False, soft_wrap=True)

    say(f"Trained on {sum(result.train_counts.values()):,} documents {result.train_counts} in {result.seconds:.1f} s.")
    if result.skipped:
        say(f"Skipped: {result.skipped}.")
    if result.scores is not None:
        s = result.scores
        say(
            f"Held out {sum(result.valid_counts.values()):,} documents {result.valid_counts}: "
            f"precision {s.precision:.3f}, recall {s.recall:.3f}, accuracy {s.accuracy:.3f} for '{s.positive_label}'."
        )
    say(f"Model: {result.model_path}")
    say(f"Use it with: FastTextQualityFilter: {{model_path: {result.model_path}, label: __label__{positive}}}")
    raise typer.Exit(EXIT_OK)
