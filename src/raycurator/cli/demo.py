"""`raycurator demo`: generate a sample corpus and curate it with the default pipeline.

The corpus (see `raycurator.cli.corpus`) holds clean prose, known junk, exact and near
duplicates, each labelled. The pipeline (`demo_pipeline_config`, also written next to the
output as `pipeline.yaml` and shipped as `examples/full_curation.yaml`) reads it, cleans the
text, applies heuristic filters, removes exact then near duplicates and writes JSONL, on the
embedded local Ray through `RayActorPoolExecutor`. Afterwards the demo checks the output
against the labels: no junk left, one document per duplicate group, no clean document lost.
"""

from __future__ import annotations

import json
import shutil
import time
from collections import Counter
from pathlib import Path
from typing import Any

import yaml
from rich.table import Table
from rich.text import Text

from raycurator.cli.build import CliOverrides, build
from raycurator.cli.config import ConfigError, load_config_text
from raycurator.cli.corpus import KINDS, generate_corpus
from raycurator.cli.quality_demo import train_demo_quality_model
from raycurator.cli.report import removed_text
from raycurator.cli.runner import EXIT_OK, console, execute_built

MARKER = ".raycurator-demo"
CORPUS_DIR, OUTPUT_DIR, RUNS_DIR = "corpus", "curated", "runs"
QUALITY_DIR, QUALITY_MODEL = "quality_training", "quality_model.bin"
#: The quality model `examples/full_curation.yaml` uses (the demo trains its own, the same way).
EXAMPLE_QUALITY_MODEL = "examples/models/demo_quality.bin"


class DemoError(Exception):
    """The demo cannot start (e.g. the output folder holds something else)."""


#: ftfy's mojibake repair plus straight quotes, split ligatures, "\n" line breaks and NFC.
DEMO_UNICODE_FIXES = {
    "normalization": "NFC",
    "uncurl_quotes": True,
    "fix_latin_ligatures": True,
    "fix_line_breaks": True,
}


def demo_pipeline_config(corpus: str, output: str, quality_model: str = EXAMPLE_QUALITY_MODEL) -> dict[str, Any]:
    """The default curation pipeline as YAML data (read -> clean -> language/quality -> filter -> dedup -> write)."""
    return {
        "name": "demo_curation",
        "description": "Unicode clean-up, language ID, fastText quality classifier, Gopher/C4 heuristic filters, "
        "exact and fuzzy deduplication.",
        "executor": {"type": "ray_actor_pool", "config": {"mode": "streaming"}},
        "stages": [
            {"JsonlReader": {"file_paths": corpus, "files_per_partition": 2}},
            {
                "stage": "Modify",
                "name": "clean_unicode",
                "params": {"modifier": [{"UnicodeReformatter": DEMO_UNICODE_FIXES}]},
            },
            {
                "stage": "ScoreFilter",
                "name": "filter_language",
                "params": {
                    "filter_obj": [{"FastTextLangId": {"min_langid_score": 0.3, "lang": "en"}}],
                    "score_field": "language",
                },
            },
            {
                "stage": "Modify",
                "name": "language_code",
                "params": {"modifier": [{"LangIdLanguageModifier": {}}], "text_field": "language"},
            },
            {
                "stage": "ScoreFilter",
                "name": "filter_quality",
                "params": {
                    "filter_obj": [{"FastTextQualityFilter": {"model_path": quality_model, "label": "__label__hq"}}],
                    "score_field": "quality",
                },
            },
            {
                "stage": "ScoreFilter",
                "name": "filter_length",
                "params": {
                    "filter_obj": [
                        {"WordCountFilter": {"min_words": 50, "max_words": 100000}},
                        {"MeanWordLengthFilter": {"min_mean_word_length": 3, "max_mean_word_length": 10}},
                    ]
                },
            },
            {
                "stage": "ScoreFilter",
                "name": "filter_markers",
                "params": {
                    "filter_obj": [
                        {"LoremIpsumFilter": {}},
                        {"JavascriptFilter": {}},
                        {"BoilerPlateStringFilter": {}},
                        {"CurlyBracketFilter": {}},
                    ]
                },
            },
            {
                "stage": "ScoreFilter",
                "name": "filter_characters",
                "params": {
                    "filter_obj": [
                        {"UrlsFilter": {"max_url_to_text_ratio": 0.2}},
                        {"SymbolsToWordsFilter": {"max_symbol_to_word_ratio": 0.1}},
                        {"NonAlphaNumericFilter": {"max_non_alpha_numeric_to_text_ratio": 0.25}},
                        {"NumbersFilter": {"max_number_to_text_ratio": 0.15}},
                    ]
                },
            },
            {
                "stage": "ScoreFilter",
                "name": "filter_repetition",
                "params": {
                    "filter_obj": [
                        {"RepeatedLinesFilter": {"max_repeated_line_fraction": 0.7}},
                        {"RepeatingTopNGramsFilter": {"n": 2, "max_repeating_ngram_ratio": 0.2}},
                    ]
                },
            },
            {"ExactDuplicateFilter": {"id_field": "id"}},
            {
                "FuzzyDuplicateFilter": {
                    "id_field": "id",
                    "char_ngrams": 24,
                    "num_bands": 16,
                    "minhashes_per_band": 6,
                    "jaccard_threshold": 0.8,
                }
            },
            {"JsonlWriter": {"path": output}},
        ],
    }


def prepare_output(folder: Path) -> None:
    """Create the demo folder; clear an earlier demo's corpus and output (never anything else)."""
    if folder.exists() and not folder.is_dir():
        raise DemoError(f"'{folder}' exists and is not a folder")
    if folder.exists() and any(folder.iterdir()) and not (folder / MARKER).exists():
        raise DemoError(
            f"'{folder}' is not empty and was not made by `raycurator demo`; choose another --output folder"
        )
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MARKER).write_text("written by `raycurator demo`; its corpus/ and curated/ are replaced on rerun\n")
    for name in (CORPUS_DIR, OUTPUT_DIR, QUALITY_DIR):
        if (folder / name).exists():
            shutil.rmtree(folder / name)


def read_output(folder: Path) -> list[dict[str, Any]]:
    """The documents the demo wrote (JSONL files under `folder`)."""
    docs: list[dict[str, Any]] = []
    for file in sorted(folder.glob("*.jsonl")):
        with open(file, encoding="utf-8") as handle:
            docs.extend(json.loads(line) for line in handle if line.strip())
    return docs


def check_output(corpus: list[dict[str, Any]], output: list[dict[str, Any]]) -> dict[str, Any]:
    """Compare the output with the corpus labels: junk kept, duplicate groups, clean documents lost."""
    groups_in = Counter(d["group"] for d in corpus if not d["kind"].startswith("junk_"))
    groups_out = Counter(d["group"] for d in output)
    dup_groups = [g for g, n in groups_in.items() if n > 1]
    return {
        "kinds_in": Counter(d["kind"] for d in corpus),
        "kinds_out": Counter(d["kind"] for d in output),
        "junk_kept": sum(1 for d in output if d["kind"].startswith("junk_")),
        "junk_total": sum(1 for d in corpus if d["kind"].startswith("junk_")),
        "duplicate_groups": len(dup_groups),
        "groups_with_one_copy": sum(1 for g in dup_groups if groups_out.get(g) == 1),
        "groups_with_copies_left": sum(1 for g in dup_groups if groups_out.get(g, 0) > 1),
        "groups_lost": sum(1 for g in groups_in if groups_out.get(g, 0) == 0),
        "groups_total": len(groups_in),
    }


def _read_corpus(folder: Path) -> list[dict[str, Any]]:
    return read_output(folder)


def run_demo(
    output: Path, num_docs: int = 3000, seed: int = 1234, show_progress: bool = True, debug: bool = False
) -> int:
    """Generate the corpus, run the pipeline, print what was kept and removed; the exit code."""
    out = console()
    started = time.monotonic()
    folder = Path(output).resolve()
    prepare_output(folder)
    info = generate_corpus(folder / CORPUS_DIR, num_docs=num_docs, seed=seed)
    out.print(
        f"Generated {info.num_docs:,} documents ({info.num_bytes / 1e6:.1f} MB, seed {seed}) in {info.path}: "
        + ", ".join(f"{info.kinds.get(k, 0)} {k}" for k in KINDS),
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    quality = train_demo_quality_model(folder / QUALITY_DIR, folder / QUALITY_MODEL, seed=seed + 1)
    scores = quality.scores
    out.print(
        f"Trained a fastText quality classifier on {sum(quality.train_counts.values()):,} labelled documents "
        f"{quality.train_counts} in {quality.seconds:.1f} s"
        + (f" (held out: precision {scores.precision:.3f}, recall {scores.recall:.3f})" if scores else "")
        + f": {quality.model_path}",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    config_data = demo_pipeline_config(
        str(folder / CORPUS_DIR), str(folder / OUTPUT_DIR), quality_model=str(folder / QUALITY_MODEL)
    )
    pipeline_file = folder / "pipeline.yaml"
    text = (
        "# The demo's curation pipeline; rerun it with: raycurator run "
        + str(pipeline_file)
        + "\n"
        + yaml.safe_dump(config_data, sort_keys=False)
    )
    pipeline_file.write_text(text, encoding="utf-8")
    try:
        config = load_config_text(text, str(pipeline_file))
        built = build(config, CliOverrides(log_dir=str(folder / RUNS_DIR), show_progress=show_progress))
    except ConfigError as error:  # the demo pipeline names stages that are missing or changed
        raise DemoError(str(error)) from error
    outcome = execute_built(built, debug)
    corpus_docs = _read_corpus(folder / CORPUS_DIR)
    output_docs = read_output(folder / OUTPUT_DIR)
    print_demo_summary(outcome.report, check_output(corpus_docs, output_docs), out)
    out.print(
        f"\nCorpus:   {info.path}\nOutput:   {folder / OUTPUT_DIR} ({len(output_docs):,} documents)\n"
        f"Pipeline: {pipeline_file}  (rerun: raycurator run {pipeline_file})",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    if outcome.run_dir is not None:
        out.print(
            f"Report:   {outcome.run_dir / 'report.html'}  (summary: raycurator report {outcome.run_dir})",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    out.print(f"Demo finished in {time.monotonic() - started:.1f} s.", markup=False, highlight=False)
    return EXIT_OK


def print_demo_summary(report: dict[str, Any] | None, check: dict[str, Any], out: Any) -> None:
    """What each stage removed, and the output checked against the corpus labels."""
    if report:
        out.print("\nWhat each stage did:", markup=False)
        for stage in report.get("stages") or []:
            out.print(
                f"  {stage['stage_name']:<26} {int(stage.get('rows_in') or 0):>7,} in  "
                f"{int(stage.get('rows_out') or 0):>7,} out   removed {removed_text(stage)}",
                markup=False,
                highlight=False,
            )
    table = Table(title="Documents by kind (corpus labels)", title_justify="left")
    table.add_column("kind")
    table.add_column("in corpus", justify="right")
    table.add_column("in output", justify="right")
    for kind in KINDS:
        table.add_row(Text(kind), f"{check['kinds_in'].get(kind, 0):,}", f"{check['kinds_out'].get(kind, 0):,}")
    out.print(table)
    out.print(
        f"Junk kept: {check['junk_kept']} of {check['junk_total']}. "
        f"Duplicate groups left with exactly one copy: {check['groups_with_one_copy']} of "
        f"{check['duplicate_groups']} ({check['groups_with_copies_left']} with copies left). "
        f"Distinct documents lost: {check['groups_lost']} of {check['groups_total']}. "
        "(Of a duplicate group the copy with the smallest id is kept, so some kept copies are "
        "labelled exact_dup, unicode_dup or near_dup.)",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
