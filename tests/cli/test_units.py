"""In-process checks of the CLI's building blocks: type matching, overrides, the inline dedup stages."""

from __future__ import annotations

from typing import Any, Literal

import pyarrow as pa
import pytest

from raycurator import DocumentBatch, LocalExecutor, Pipeline
from raycurator.cli.build import CliOverrides, build
from raycurator.cli.config import ConfigError, load_config_text
from raycurator.cli.corpus import make_documents
from raycurator.cli.types import matches, type_name
from raycurator.stages.deduplication.inline import ExactDuplicateFilter, FuzzyDuplicateFilter
from raycurator.stages.resources import Resources


@pytest.mark.parametrize(
    ("value", "annotation", "ok"),
    [
        (3, int, True),
        (True, int, False),
        (3, float, True),
        (2.5, int, False),
        ("x", str | None, True),
        (None, str | None, True),
        (["a", "b"], str | list[str], True),
        (["a", 1], list[str], False),
        ({"a": 1}, dict[str, int], True),
        ({"a": "x"}, dict[str, int], False),
        ("prefix", Literal["prefix", "suffix"], True),
        ("middle", Literal["prefix", "suffix"], False),
        (Resources(cpus=2), Resources, True),
        ({"cpus": 2}, Resources, False),
        ("anything", Any, True),
    ],
)
def test_matches(value, annotation, ok):
    assert matches(value, annotation) is ok


def test_type_names():
    assert type_name(str | list[str] | None) == "str | list[str] | None"
    assert type_name(dict[str, int]) == "dict[str, int]"


def test_overrides_and_objects_build():
    text = """
stages:
  - stage: ScoreFilter
    resources: {cpus: 0.5}
    params:
      filter_obj: [{WordCountFilter: {min_words: 5}}, {UrlsFilter: {}}]
  - Modify: {modifier: {UnicodeReformatter: {normalization: NFKC}}}
executor: {type: local}
"""
    config = load_config_text(text, "inline.yaml", ["stages.0.params.invert=true", "stages.1.Modify.text_field=body"])
    built = build(config, CliOverrides())
    score, modify = built.stages
    assert score.invert is True and score.resources.cpus == 0.5
    assert [type(f).__name__ for f in score.filter_objs] == ["WordCountFilter", "UrlsFilter"]
    assert modify.text_field == "body" and modify.modifiers[0].normalization == "NFKC"
    where = config.where(("stages", 0, "params", "invert"))
    assert where == "--set stages.0.params.invert=true (stages[0].params.invert)"
    assert config.where(("stages", 1, "params", "modifier")).startswith("inline.yaml:7")


def test_wrong_type_in_resources_is_reported():
    text = "stages:\n  - stage: AddId\n    resources: {cpus: lots}\nexecutor: {type: local}\n"
    with pytest.raises(ConfigError) as error:
        build(load_config_text(text, "r.yaml"), CliOverrides())
    assert "r.yaml:3 (stages[0].resources.cpus)" in str(error.value) and "expected float" in str(error.value)


def _batches(docs: list[dict[str, str]], size: int) -> list[DocumentBatch]:
    return [
        DocumentBatch(task_id=f"b{i}", dataset_name="t", data=pa.Table.from_pylist(docs[i : i + size]))
        for i in range(0, len(docs), size)
    ]


def test_inline_dedup_keeps_one_document_per_group():
    docs = [d for d in make_documents(400, seed=5) if not d["kind"].startswith("junk_") and d["kind"] != "unicode_dup"]
    tasks = _batches(docs, 60)
    fuzzy = FuzzyDuplicateFilter(id_field="id", num_bands=16, minhashes_per_band=6)
    pipeline = Pipeline("dedup", stages=[ExactDuplicateFilter(id_field="id"), fuzzy])
    out = pipeline.run(executor=LocalExecutor(), initial_tasks=tasks)
    table = pa.concat_tables([t.to_pyarrow() for t in out])
    groups = table.column("group").to_pylist()
    assert len(groups) == len(set(groups)) == len({d["group"] for d in docs})
    # of each group the smallest id survives; dedup columns are gone
    smallest: dict[str, str] = {}
    for d in docs:
        smallest[d["group"]] = min(smallest.get(d["group"], d["id"]), d["id"])
    assert sorted(table.column("id").to_pylist()) == sorted(smallest.values())
    assert set(table.column_names) == {"id", "text", "kind", "group"}


def test_fuzzy_dedup_without_duplicates_keeps_everything():
    docs = [d for d in make_documents(200, seed=6) if d["kind"] == "clean"]
    out = Pipeline("f", stages=[FuzzyDuplicateFilter(id_field="id")]).run(
        executor=LocalExecutor(), initial_tasks=_batches(docs, 50)
    )
    assert sum(t.num_items for t in out) == len(docs)
