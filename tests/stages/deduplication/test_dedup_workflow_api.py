"""The dedup workflows' NeMo Curator 1.4 surface, their driver-side partitions, one Ray per run, the CLI."""

from __future__ import annotations

import ast
import inspect
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from raycurator.backends.local import LocalExecutor
from raycurator.cli.main import app
from raycurator.pipeline.dedup_workflow import DeduplicationResult, balance_partitions
from raycurator.pipeline.exact_dedup import ExactDeduplicationWorkflow
from raycurator.pipeline.fuzzy_dedup import FuzzyDeduplicationWorkflow
from raycurator.pipeline.workflow import WorkflowRunResult
from raycurator.stages.file_partitioning import FilePartitioningStage

NEMO_SRC = Path(os.environ.get("NEMO_CURATOR_SRC", "/work/nemo_ref/src/nemo_curator"))
SRC = Path(__file__).resolve().parents[3] / "src"


def nemo_init_params(module: str, cls: str) -> list[tuple[str, str | None]]:
    """(name, default source) of NeMo Curator's `cls.__init__` parameters, in order."""
    tree = ast.parse((NEMO_SRC / module).read_text(encoding="utf-8"))
    node = next(n for n in ast.walk(tree) if isinstance(n, ast.ClassDef) and n.name == cls)
    init = next(n for n in node.body if isinstance(n, ast.FunctionDef) and n.name == "__init__")
    args = init.args.args[1:]
    defaults = [None] * (len(args) - len(init.args.defaults)) + [ast.unparse(d) for d in init.args.defaults]
    return [(a.arg, d) for a, d in zip(args, defaults, strict=True)]


@pytest.mark.parametrize(
    ("cls", "module"),
    [
        (ExactDeduplicationWorkflow, "stages/deduplication/exact/workflow.py"),
        (FuzzyDeduplicationWorkflow, "stages/deduplication/fuzzy/workflow.py"),
    ],
)
def test_parameters_are_nemo_curators_then_keyword_only_extras(cls, module):
    if not (NEMO_SRC / module).exists():
        pytest.skip("NeMo Curator's source is not at hand")
    ours = list(inspect.signature(cls.__init__).parameters.values())[1:]
    positional = [p for p in ours if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD]
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in ours[len(positional) :])
    nemo = nemo_init_params(module, cls.__name__)
    assert [p.name for p in positional] == [name for name, _ in nemo]
    for param, (name, default) in zip(positional, nemo, strict=True):
        if default is None:
            assert param.default is inspect.Parameter.empty, name
        else:
            assert param.default == ast.literal_eval(default), name
    assert list(inspect.signature(cls.run).parameters)[1:] == ["initial_tasks", "executor"]


def test_nemo_import_paths_give_the_pipeline_layer_classes():
    from raycurator.stages import deduplication
    from raycurator.stages.deduplication.exact.workflow import ExactDeduplicationWorkflow as exact_nemo
    from raycurator.stages.deduplication.fuzzy import FuzzyDeduplicationWorkflow as fuzzy_package
    from raycurator.stages.deduplication.fuzzy.workflow import FuzzyDeduplicationWorkflow as fuzzy_nemo

    assert exact_nemo is ExactDeduplicationWorkflow is deduplication.ExactDeduplicationWorkflow
    assert fuzzy_nemo is fuzzy_package is FuzzyDeduplicationWorkflow is deduplication.FuzzyDeduplicationWorkflow
    assert deduplication.DeduplicationResult is DeduplicationResult


def write_corpus(directory: Path, num_files: int) -> list[str]:
    """`num_files` JSONL files of 4 documents; file k's doc 0 is an exact copy of file 0's doc 0."""
    directory.mkdir(parents=True, exist_ok=True)
    copies = []
    for k in range(num_files):
        with open(directory / f"part-{k:02d}.jsonl", "w", encoding="utf-8") as handle:
            for i in range(4):
                text = "the same shared document text, long enough" if i == 0 else f"file {k} document {i} " * 8
                handle.write(json.dumps({"id": f"{k:02d}-{i}", "text": text}) + "\n")
                if i == 0 and k:
                    copies.append(f"{k:02d}-{i}")
    return copies


def test_run_takes_nemos_argument_order_and_returns_a_workflow_result(tmp_path):
    copies = write_corpus(tmp_path / "in", 3)
    workflow = ExactDeduplicationWorkflow(str(tmp_path / "out"), str(tmp_path / "in"), "jsonl", id_field="id")
    with pytest.raises(TypeError, match="executor="):
        workflow.run(LocalExecutor())
    result = workflow.run(executor=LocalExecutor())
    assert isinstance(result, WorkflowRunResult) and result.workflow_name == "exact_dedup"
    assert result.metadata["num_duplicates"] == result.num_duplicates == len(copies)
    assert result.metadata["total_time"] >= result.metadata["identification_time"] > 0
    assert sorted(pq.read_table(result.duplicate_id_files)["id"].to_pylist()) == copies
    assert [Path(f).parent for f in result.duplicate_id_files] == [tmp_path / "out" / "ExactDuplicateIds"]
    assert result.output_path is None and not (tmp_path / "out" / "deduplicated").exists()  # NeMo: identify only
    assert set(result.run_reports) == {"identification"} and set(result.pipeline_tasks) == {"identification"}


def test_initial_tasks_replace_input_path(tmp_path):
    write_corpus(tmp_path / "in", 4)
    tasks = FilePartitioningStage(str(tmp_path / "in"), files_per_partition=1, file_extensions=[".jsonl"]).process(None)
    workflow = FuzzyDeduplicationWorkflow(str(tmp_path / "cache"), str(tmp_path / "out"), None, "jsonl",
                                          perform_removal=True, id_field="id", num_bands=10, minhashes_per_band=2)
    result = workflow.run(tasks[:2], executor=LocalExecutor())  # only the first two files
    assert pq.read_table(result.duplicate_id_files)["id"].to_pylist() == ["01-0"]
    kept = [json.loads(line)["id"] for f in result.output_files for line in Path(f).read_text().splitlines()]
    assert sorted(kept) == sorted(f"{k:02d}-{i}" for k in range(2) for i in range(4) if (k, i) != (1, 0))
    with pytest.raises(ValueError, match="FileGroupTask"):
        workflow.run([object()], executor=LocalExecutor())


def test_big_partitions_are_split_for_the_workers_and_small_ones_left(tmp_path):
    write_corpus(tmp_path / "in", 9)
    one_big = FilePartitioningStage(str(tmp_path / "in"), blocksize="1GiB", file_extensions=[".jsonl"])
    assert len(one_big.process(None)) == 1
    groups = balance_partitions(one_big, num_workers=2)
    assert len(groups) == 5 and sorted(f for g in groups for f in g.data) == sorted(
        str(p) for p in (tmp_path / "in").glob("*.jsonl")
    )
    per_file = FilePartitioningStage(str(tmp_path / "in"), files_per_partition=1, file_extensions=[".jsonl"])
    assert len(balance_partitions(per_file, num_workers=2)) == 9


def test_the_cli_runs_a_workflow_and_prints_each_pass(tmp_path):
    copies = write_corpus(tmp_path / "in", 3)
    result = CliRunner().invoke(
        app,
        ["dedup", "exact", str(tmp_path / "in"), str(tmp_path / "out"), "--executor", "local", "--id-field", "id",
         "--log-dir", str(tmp_path / "runs"), "--param", "total_nparts=2", "--no-progress"],
    )
    assert result.exit_code == 0, result.output
    assert "identification pass" in result.output and "removal pass" in result.output
    assert f"duplicates: {len(copies)}" in result.output
    assert len(list((tmp_path / "runs").glob("*/report.json"))) == 2
    kept = [json.loads(line)["id"] for f in (tmp_path / "out" / "deduplicated").glob("*.jsonl")
            for line in f.read_text().splitlines()]
    assert len(kept) == 12 - len(copies) and not set(copies) & set(kept)
    bad = CliRunner().invoke(app, ["dedup", "fuzzy", str(tmp_path / "in"), str(tmp_path / "o2"), "--param", "nope=1"])
    assert bad.exit_code == 2 and "no parameter 'nope'" in bad.output


@pytest.mark.slow
def test_one_ray_is_started_for_both_passes(tmp_path):
    """A workflow on the actor pool without a Ray up starts one embedded Ray for both passes, and stops it."""
    copies = write_corpus(tmp_path / "in", 4)
    script = textwrap.dedent(f"""
        import json, ray
        import raycurator.backends.ray_cluster as cluster
        from raycurator.backends.ray_actor_pool import RayActorPoolExecutor
        from raycurator.stages.deduplication.fuzzy.workflow import FuzzyDeduplicationWorkflow

        starts = []
        original = cluster.start_local_ray
        def counting(**kwargs):
            starts.append(kwargs)
            return original(**kwargs)
        cluster.start_local_ray = counting
        executor = RayActorPoolExecutor(config={{"num_cpus": 2, "log_dir": {str(tmp_path / "runs")!r}}},
                                        show_progress=False)
        result = FuzzyDeduplicationWorkflow({str(tmp_path / "cache")!r}, {str(tmp_path / "out")!r},
                                            {str(tmp_path / "in")!r}, "jsonl", perform_removal=True,
                                            id_field="id", num_bands=10, minhashes_per_band=2).run(executor=executor)
        print(json.dumps({{"starts": len(starts), "up_after": ray.is_initialized(),
                          "duplicates": result.num_duplicates, "passes": sorted(result.run_reports)}}))
    """)
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    env.pop("RAY_ADDRESS", None)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    outcome = json.loads(done.stdout.strip().splitlines()[-1])
    assert outcome == {"starts": 1, "up_after": False, "duplicates": len(copies),
                       "passes": ["identification", "removal"]}


def test_readme_example_find_inspect_remove(tmp_path, monkeypatch):
    """The README's example (on LocalExecutor): ids from the fuzzy workflow, groups, then the removal workflow."""
    from raycurator.stages.deduplication import FuzzyDeduplicationWorkflow as workflow_class
    from raycurator.stages.text.deduplication import TextDuplicatesRemovalWorkflow

    copies = write_corpus(tmp_path / "data", 3)
    monkeypatch.chdir(tmp_path)
    executor = LocalExecutor()
    result = workflow_class(cache_path="work/cache", output_path="work/fuzzy", input_path="data",
                            input_filetype="jsonl", id_field="id").run(executor=executor)
    ids = pq.read_table(result.duplicate_id_files).to_pandas()
    groups = ids.groupby("_duplicate_of")["id"].apply(list)
    assert dict(groups) == {"00-0": copies}
    removal = TextDuplicatesRemovalWorkflow(
        input_path="data", ids_to_remove_path=result.duplicate_ids_path, output_path="work/deduplicated",
        input_filetype="jsonl", id_field="id", duplicate_id_field="id", output_filetype="jsonl",
    ).run(executor)
    assert removal.metadata["num_duplicates_removed"] == len(copies)
    kept = [json.loads(line)["id"] for f in Path("work/deduplicated").glob("*.jsonl")
            for line in f.read_text().splitlines()]
    assert len(kept) == 12 - len(copies) and not set(copies) & set(kept)


def test_inline_fuzzy_filter_bands_in_parallel_stage_before_its_barrier():
    import pyarrow as pa

    from raycurator.stages.deduplication.fuzzy.lsh import band_bucket_ids
    from raycurator.stages.deduplication.fuzzy.minhash import MINHASH_FIELD, InMemoryMinHashStage, signatures_from_arrow
    from raycurator.stages.deduplication.inline import (
        BANDS_FIELD,
        FuzzyBandsStage,
        FuzzyDuplicateBarrier,
        FuzzyDuplicateFilter,
    )
    from raycurator.tasks import DocumentBatch

    parts = FuzzyDuplicateFilter(id_field="id", num_bands=4, minhashes_per_band=3).decompose()
    assert [type(p) for p in parts] == [InMemoryMinHashStage, FuzzyBandsStage, FuzzyDuplicateBarrier]
    assert not parts[1].is_barrier and parts[2].is_barrier
    text = "a text long enough to have some character shingles " * 3
    batch = DocumentBatch(task_id="t", dataset_name="d",
                          data=pa.table({"id": ["x", "y", "z"], "text": [text, "", text], "extra": [1, 2, 3]}))
    signed = parts[0].process(batch)
    banded = parts[1].process(signed)
    table = banded.to_pyarrow()
    assert MINHASH_FIELD not in table.column_names and table.column("extra").to_pylist() == [1, 2, 3]
    assert table.column(BANDS_FIELD).to_pylist()[1] is None  # no shingles: in no bucket
    expected = band_bucket_ids(signatures_from_arrow(signed.to_pyarrow()[MINHASH_FIELD], 12), 4, 3)
    assert table.column(BANDS_FIELD).to_pylist()[0] == expected[0].tolist()
    out = parts[2].process_batch([banded])
    assert out[0].to_pyarrow().column("id").to_pylist() == ["x", "y"]  # z copies x; y stays (nothing to match)
    assert out[0].to_pyarrow().column_names == ["id", "text", "extra"]
