"""C4 / Gopher / FineWeb rule sets on documents written to hit each rule; the exclusion record."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from raycurator.backends.local import LocalExecutor
from raycurator.pipeline import Pipeline
from raycurator.stages.text.filters import ScoreFilter, WordCountFilter
from raycurator.stages.text.filters.exclusion import EXCLUDED_BY, EXCLUSION_SCORE, ExclusionWriter
from raycurator.stages.text.filters.rulesets import (
    C4DocumentFilter,
    C4LineCleaner,
    FineWebQualityFilter,
    GopherQualityFilter,
    GopherRepetitionFilter,
)
from raycurator.stages.text.io.reader import JsonlReader
from raycurator.stages.text.io.writer import JsonlWriter
from raycurator.stages.text.modifiers import Modify
from raycurator.tasks.utils import TaskPerfUtils

REAL_TEXT = Path(__file__).parent / "real_text"
NETWORKX = (REAL_TEXT / "networkx_LICENSE.txt").read_text(encoding="utf-8")  # real text that passes Gopher
LONG = " ".join(f"longword{i:03d}" for i in range(100))
PHRASE = " ".join(f"p{i:02d}aa" for i in range(20))  # 20 distinct 5-character words
FILLER = " ".join(f"f{i:02d}bb" for i in range(40))
SENTENCE = "The committee reviewed the annual report and agreed with the findings of the auditors."


def prose(n_sentences: int) -> str:
    return " ".join(f"{SENTENCE[:-1]} number {i}." for i in range(n_sentences))


# -- C4 ------------------------------------------------------------------------------------------
def test_c4_line_cleaner_drops_each_kind_of_line():
    text = "\n".join(
        [
            "A proper sentence that ends well.",
            "No terminal punctuation here",
            "Trailing ellipsis is dropped...",
            "Two words.",
            "Please enable JavaScript to view the page.",
            "Read our Privacy Policy before you continue.",
            "A cited claim about the world.[1] It stays.[citation needed]",
            "A " + "x" * 1001 + " word is too long.",
            '"A quoted line is fine."',
        ]
    )
    cleaned = C4LineCleaner().modify_document(text)
    assert cleaned.split("\n") == [
        "A proper sentence that ends well.",
        "A cited claim about the world. It stays.",
        '"A quoted line is fine."',
    ]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (prose(6) + " Lorem ipsum dolor sit amet.", "lorem_ipsum"),
        (prose(6) + " function() { return 1; }", "curly_bracket"),
        (prose(4), "too_few_sentences"),
        (prose(5), ""),
    ],
)
def test_c4_document_rules(text, reason):
    f = C4DocumentFilter()
    assert f.score_document(text) == reason
    assert f.keep_document(reason) is (reason == "")


def test_c4_on_a_real_license():
    text = (REAL_TEXT / "yarl_LICENSE_apache2.txt").read_text(encoding="utf-8")
    cleaned = C4LineCleaner().modify_document(text)
    assert 0 < len(cleaned) < len(text)
    assert C4DocumentFilter().score_document(cleaned) == ""


# -- Gopher --------------------------------------------------------------------------------------
GOOD = prose(8)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("the and of " * 5, "gopher_short_doc"),
        (GOOD, ""),
        (" ".join(["to"] * 60), "gopher_below_avg_threshold"),
        (" ".join(["internationalisation"] * 60), "gopher_above_avg_threshold"),
        (GOOD + " #tag" * 20, "gopher_too_many_hashes"),
        (GOOD + " wait..." * 20, "gopher_too_many_ellipsis"),
        ("\n".join(f"\u2022 {SENTENCE}" for _ in range(10)), "gopher_too_many_bullets"),
        ("\n".join([f"{SENTENCE[:-1]} \u2026"] * 4 + [SENTENCE] * 6), "gopher_too_many_end_ellipsis"),
        (GOOD + " 123 456 789" * 20, "gopher_below_alpha_threshold"),
        (" ".join(["committee reviewed annual report"] * 15), "gopher_enough_stop_words"),
    ],
)
def test_gopher_quality_rules(text, reason):
    assert GopherQualityFilter().score_document(text) == reason


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("\n\n".join([SENTENCE] * 3 + [prose(1)]), "dup_para_frac"),
        ("\n\n".join([LONG, LONG] + [f"Unique paragraph {i}." for i in range(6)]), "dup_para_char_frac"),
        ("\n".join([SENTENCE] * 3 + [f"Line {i} is unique enough." for i in range(3)]), "dup_line_frac"),
        ("\n".join([LONG, LONG] + [f"Unique line {i}." for i in range(6)]), "dup_line_char_frac"),
        (" ".join(["alpha beta"] * 30 + [f"w{i}" for i in range(60)]), "top_2_gram"),
        # the phrase's second copy (100 of 400 word characters) repeats 5-grams; no n-gram is "top" enough
        (" ".join([PHRASE, FILLER, PHRASE]), "duplicated_5_n_grams"),
        (NETWORKX, ""),
    ],
)
def test_gopher_repetition_rules(text, reason):
    assert GopherRepetitionFilter().score_document(text) == reason


def test_gopher_on_real_text():
    text = (REAL_TEXT / "networkx_LICENSE.txt").read_text(encoding="utf-8")
    assert GopherQualityFilter().score_document(text) == ""
    assert GopherRepetitionFilter().score_document(text) == ""


# -- FineWeb -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("\n".join(f"Menu entry number {i} without a stop" for i in range(10)), "line_punct_ratio"),
        ("\n".join(["Short line."] * 1 + [f"Item {i}." for i in range(9)]), "short_line_ratio"),
        ("\n".join([prose(2), prose(2), prose(3)]), "char_dup_ratio"),
        ("\n".join(f"Internationalization number{i} considerations." for i in range(40)), "list_ratio"),
        (prose(12), ""),
    ],
)
def test_fineweb_rules(text, reason):
    assert FineWebQualityFilter().score_document(text) == reason


def test_fineweb_line_punct_exclude_zero():
    text = "\n".join(f"Menu entry number {i} without a stop but long enough to count" for i in range(3))
    assert FineWebQualityFilter(line_punct_exclude_zero=True).score_document(text) != "line_punct_ratio"


# -- the exclusion record ------------------------------------------------------------------------
def write_corpus(root: Path) -> None:
    root.mkdir()
    docs = [
        {"id": "good", "text": NETWORKX},
        {"id": "short", "text": "the and of " * 5},
        {"id": "hashes", "text": NETWORKX + " #tag" * 40},
        {"id": "repeated", "text": "\n\n".join([SENTENCE] * 6 + [NETWORKX])},
    ]
    (root / "part.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs), encoding="utf-8")


def build(corpus: Path, out: Path, excluded: ExclusionWriter) -> Pipeline:
    return Pipeline(
        "exclusion",
        stages=[
            JsonlReader(str(corpus)),
            Modify(C4LineCleaner(), output_fields="c4_text"),
            ScoreFilter(
                [GopherQualityFilter(), GopherRepetitionFilter()],
                score_field=["gopher_quality", "gopher_repetition"],
                exclusion_writer=excluded,
            ),
            JsonlWriter(str(out)),
        ],
    )


def test_removed_documents_are_written_with_filter_and_reason(tmp_path):
    write_corpus(tmp_path / "corpus")
    excluded = ExclusionWriter(str(tmp_path / "excluded"))
    results = build(tmp_path / "corpus", tmp_path / "out", excluded).run(LocalExecutor())
    kept = [json.loads(x)["id"] for f in sorted((tmp_path / "out").glob("*.jsonl")) for x in f.read_text().splitlines()]
    assert kept == ["good"]

    files = sorted((tmp_path / "excluded").rglob("*.jsonl"))
    assert [f.parent.name for f in files] == ["ScoreFilter_gopher_quality_gopher_repetition"]
    rows = [json.loads(line) for line in files[0].read_text(encoding="utf-8").splitlines()]
    reasons = {row["id"]: (row[EXCLUDED_BY], row[EXCLUSION_SCORE]) for row in rows}
    assert reasons == {
        "short": ("gopher_quality", "gopher_short_doc"),
        "hashes": ("gopher_quality", "gopher_too_many_hashes"),
        "repeated": ("gopher_repetition", "dup_para_frac"),
    }
    assert all(row["text"] and "c4_text" in row for row in rows)  # the whole row is kept

    metrics = TaskPerfUtils.collect_stage_metrics(results)["ScoreFilter_gopher_quality_gopher_repetition"]
    assert metrics["custom.removed_by_gopher_quality"].sum() == 2
    assert metrics["custom.removed_by_gopher_quality.gopher_short_doc"].sum() == 1
    assert metrics["custom.removed_by_gopher_repetition.dup_para_frac"].sum() == 1
    assert metrics["custom.documents_excluded_written"].sum() == 3

    # A rerun rewrites the same file atomically: no duplicates, no temporary files left.
    build(tmp_path / "corpus", tmp_path / "out", excluded).run(LocalExecutor())
    assert sorted((tmp_path / "excluded").rglob("*")) == [files[0].parent, files[0]]
    assert len(files[0].read_text(encoding="utf-8").splitlines()) == 3


def test_exclusion_writer_parquet_and_numeric_scores(tmp_path):
    write_corpus(tmp_path / "corpus")
    excluded = ExclusionWriter(str(tmp_path / "excluded"), file_type="parquet")
    word_count = ScoreFilter(WordCountFilter(min_words=20), exclusion_writer=excluded)
    stages = [JsonlReader(str(tmp_path / "corpus")), word_count]
    Pipeline("p", stages=stages).run(LocalExecutor())
    (path,) = (tmp_path / "excluded").rglob("*.parquet")
    table = pq.read_table(path)
    assert table[EXCLUDED_BY].to_pylist() == ["word_count"]
    assert table[EXCLUSION_SCORE].to_pylist() == ["15"]
    with pytest.raises(ValueError, match="file_type"):
        ExclusionWriter(str(tmp_path), file_type="csv")


def test_exclusion_writer_from_yaml_and_stage_listing(tmp_path):
    from raycurator.cli.build import CliOverrides
    from raycurator.cli.build import build as build_config
    from raycurator.cli.classes import helper_classes
    from raycurator.cli.config import load_config_text

    text = f"""
stages:
  - stage: ScoreFilter
    params:
      filter_obj: [{{GopherQualityFilter: {{}}}}, {{FineWebQualityFilter: {{}}}}]
      exclusion_writer: {{ExclusionWriter: {{path: "{tmp_path}/excluded"}}}}
executor: {{type: local}}
"""
    (stage,) = build_config(load_config_text(text, "x.yaml"), CliOverrides()).stages
    assert stage.exclusion_writer.path == f"{tmp_path}/excluded"
    helpers = helper_classes()
    for name in (
        "PornographicUrlsFilter", "TokenCountFilter", "HistogramFilter", "AlphaFilter", "PerExtensionFilter",
        "GopherQualityFilter", "C4LineCleaner", "MarkdownRemover", "Slicer", "QuotationRemover",
        "BoilerPlateStringModifier", "ExclusionWriter",
    ):  # fmt: skip
        assert name in helpers, name


def test_run_report_links_the_removed_documents_and_top_reasons(tmp_path, shared_ray):
    """On the actor pool, report.json / report.html / `raycurator report` name the exclusion folder and the
    filters that removed the most documents."""
    from io import StringIO

    from rich.console import Console

    from raycurator.backends.ray_actor_pool import RayActorPoolExecutor
    from raycurator.cli.report import print_report

    write_corpus(tmp_path / "corpus")
    excluded = ExclusionWriter(str(tmp_path / "excluded"))
    executor = RayActorPoolExecutor(config={"log_dir": str(tmp_path / "runs")})
    build(tmp_path / "corpus", tmp_path / "out", excluded).run(executor)
    run_dir = Path(executor.last_report.log_dir)
    report = json.loads((run_dir / "report.json").read_text())
    (stage,) = [s for s in report["stages"] if s["side_outputs"]]
    assert stage["stage_name"] == "ScoreFilter_gopher_quality_gopher_repetition"
    assert stage["side_outputs"] == {"excluded documents": str(tmp_path / "excluded")}
    page = (run_dir / "report.html").read_text()
    assert (tmp_path / "excluded").as_uri() in page
    assert "top reasons: gopher_quality 2, gopher_quality.gopher_short_doc 1" in page
    out = StringIO()
    print_report(report, Console(file=out, width=400), run_dir)
    assert f"excluded documents in {tmp_path / 'excluded'}" in out.getvalue()
    assert "gopher_quality 2" in out.getvalue()
