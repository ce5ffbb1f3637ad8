"""The demo's own output check (`check_output`) on its real generated corpus, no pipeline run."""

from __future__ import annotations

from pathlib import Path

import pytest

from raycurator.cli.corpus import generate_corpus
from raycurator.cli.demo import check_output, read_output


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    folder: Path = tmp_path_factory.mktemp("demo-corpus")
    generate_corpus(folder, num_docs=400, seed=5, num_files=2)
    docs = read_output(folder)
    assert len(docs) >= 400 and any(d["kind"].startswith("junk_") for d in docs)
    return docs


def perfect(corpus: list[dict]) -> list[dict]:
    """What an ideal curation keeps: no junk, the smallest id of every group."""
    kept: dict[str, dict] = {}
    for doc in sorted(corpus, key=lambda d: d["id"]):
        if not doc["kind"].startswith("junk_"):
            kept.setdefault(doc["group"], doc)
    return list(kept.values())


def test_an_ideal_output_passes_every_count(corpus) -> None:
    check = check_output(corpus, perfect(corpus))
    groups = {d["group"] for d in corpus if not d["kind"].startswith("junk_")}
    sizes = {g: sum(1 for d in corpus if d["group"] == g) for g in groups}
    assert check["junk_total"] == sum(1 for d in corpus if d["kind"].startswith("junk_")) > 0
    assert check["junk_kept"] == 0
    assert check["groups_total"] == len(groups)
    assert check["duplicate_groups"] == sum(1 for n in sizes.values() if n > 1) > 0
    assert check["groups_with_one_copy"] == check["duplicate_groups"]
    assert check["groups_with_copies_left"] == 0 and check["groups_lost"] == 0
    assert sum(check["kinds_in"].values()) == len(corpus)


def test_the_untouched_corpus_shows_all_junk_and_copies_left(corpus) -> None:
    check = check_output(corpus, corpus)
    assert check["junk_kept"] == check["junk_total"]
    assert check["groups_with_copies_left"] == check["duplicate_groups"] and check["groups_with_one_copy"] == 0
    assert check["groups_lost"] == 0
    assert check["kinds_out"] == check["kinds_in"]


def test_each_mistake_is_counted_once(corpus) -> None:
    ideal = perfect(corpus)
    dropped = ideal[0]
    junk = next(d for d in corpus if d["kind"].startswith("junk_"))
    duplicate_group = next(g for g, n in _group_sizes(corpus).items() if n > 1)
    extra_copy = max((d for d in corpus if d["group"] == duplicate_group), key=lambda d: d["id"])
    check = check_output(corpus, [d for d in ideal if d is not dropped] + [junk, extra_copy])
    assert check["junk_kept"] == 1
    assert check["groups_lost"] == 1
    assert check["groups_with_copies_left"] == 1
    lost_a_duplicate_group = _group_sizes(corpus)[dropped["group"]] > 1
    assert check["groups_with_one_copy"] == check["duplicate_groups"] - 1 - lost_a_duplicate_group


def _group_sizes(corpus: list[dict]) -> dict[str, int]:
    sizes: dict[str, int] = {}
    for doc in corpus:
        if not doc["kind"].startswith("junk_"):
            sizes[doc["group"]] = sizes.get(doc["group"], 0) + 1
    return sizes
