"""Invalid pipeline files are rejected before Ray starts, naming the line, the key and the valid choices."""

from __future__ import annotations

import textwrap

import pytest

pytestmark = pytest.mark.timeout(120)


def write(tmp_path, text: str, name: str = "pipeline.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def lines_of(result) -> list[str]:
    return [line.strip() for line in result.stderr.splitlines()]


def issue_line(result, fragment: str) -> str:
    """The error line mentioning `fragment` (fails when none does)."""
    matches = [line for line in lines_of(result) if fragment in line]
    assert matches, f"no error line mentions {fragment!r}:\n{result}"
    return matches[0]


@pytest.fixture
def sample(tmp_path):
    data = tmp_path / "data.jsonl"
    data.write_text('{"text": "hello world"}\n', encoding="utf-8")
    return data


def test_many_problems_reported_at_once(cli, assert_no_ray, tmp_path, sample):
    config = write(
        tmp_path,
        f"""
        name: broken
        executor:
          type: ray_actor_pool
          config:
            mod: streaming
        stages:
          - JsonlReader:
              file_paths: {tmp_path}/missing-folder
          - ScoreFiltr:
              filter_obj: {{WordCountFilter: {{min_words: 50}}}}
          - ScoreFilter:
              filter_obj:
                WordCountFilter: {{min_word: 50}}
          - ScoreFilter:
              filter_obj: {{WordCountFilter: {{min_words: many}}}}
              invert: "yes"
          - JsonlWriter:
              path: {tmp_path}/out
              bogus: 1
        """,
    )
    result = cli("run", str(config), "--log-dir", str(tmp_path / "runs"))
    assert result.returncode == 2, str(result)
    assert_no_ray(result)
    assert result.seconds < 60
    assert "Traceback" not in result.output
    assert "7 problems" in result.stderr
    # missing input path: line 7, the key, the path
    line = issue_line(result, "input path(s) not found")
    assert f"{config}:8" in line and "stages[0].params.file_paths" in line and "missing-folder" in line
    # unknown stage: line, suggestion, the list of valid stages
    line = issue_line(result, "unknown stage 'ScoreFiltr'")
    assert f"{config}:9" in line and "Did you mean 'ScoreFilter'" in line
    assert "Valid stages:" in line and "JsonlReader" in line and "ParquetWriter" in line
    # unknown parameter of a nested filter: line, suggestion, the constructor's parameters
    line = issue_line(result, "unknown parameter 'min_word'")
    assert f"{config}:13" in line and "filter_obj.WordCountFilter.min_word" in line
    assert "Did you mean 'min_words'" in line and "max_words: int = 100000" in line
    # wrong types
    line = issue_line(result, "parameter 'min_words'")
    assert f"{config}:15" in line and "expected int, got str 'many'" in line
    line = issue_line(result, "parameter 'invert'")
    assert f"{config}:16" in line and "expected bool | list[bool], got str 'yes'" in line
    # unknown parameter of a stage; executor config key
    line = issue_line(result, "unknown parameter 'bogus'")
    assert f"{config}:19" in line and "Its parameters: path: str" in line
    line = issue_line(result, "config key 'mod'")
    assert f"{config}:5" in line
    assert "Did you mean 'mode'" in line and "Valid keys:" in line


def test_unknown_nested_class_and_filter_used_as_stage(cli, tmp_path, sample):
    config = write(
        tmp_path,
        f"""
        stages:
          - JsonlReader: {{file_paths: {sample}}}
          - ScoreFilter:
              filter_obj: [{{WordCountFilter: {{}}}}, {{LoremIpsumFiltr: {{}}}}]
          - WordCountFilter: {{min_words: 3}}
        """,
    )
    result = cli("describe", str(config))
    assert result.returncode == 2, str(result)
    line = issue_line(result, "unknown class 'LoremIpsumFiltr'")
    assert f"{config}:4" in line and "Did you mean 'LoremIpsumFilter'" in line
    assert "Classes usable here:" in line and "UrlsFilter" in line and "UnicodeReformatter" not in line
    line = issue_line(result, "is a document filter, not a stage")
    assert f"{config}:5" in line and "{ScoreFilter: {filter_obj: {WordCountFilter: {}}}}" in line


def test_constructor_errors_and_missing_required_params(cli, assert_no_ray, tmp_path, sample):
    config = write(
        tmp_path,
        f"""
        stages:
          - JsonlReader:
              file_paths: {sample}
          - ScoreFilter:
              filter_obj:
                WordCountFilter: {{min_words: 80, max_words: 10}}
          - JsonlWriter: {{}}
        """,
    )
    result = cli("run", str(config))
    assert result.returncode == 2, str(result)
    assert_no_ray(result)
    line = issue_line(result, "WordCountFilter rejected its parameters")
    assert f"{config}:6" in line and "min_words (80) exceeds max_words (10)" in line
    line = issue_line(result, "needs parameter(s) path")
    assert f"{config}:7" in line


def test_bad_yaml_and_layout(cli, tmp_path):
    config = write(tmp_path, "stages:\n  - JsonlReader: {file_paths: [a, b}\n")
    result = cli("run", str(config))
    assert result.returncode == 2 and "not valid YAML" in result.stderr, str(result)
    assert f"{config}:2" in result.stderr
    config = write(tmp_path, "name: x\nstagse: []\n", "layout.yaml")
    result = cli("run", str(config))
    assert result.returncode == 2, str(result)
    assert "unknown top-level key 'stagse'" in result.stderr and "Did you mean 'stages'" in result.stderr
    assert "no 'stages' list" in result.stderr
    result = cli("run", str(tmp_path / "nope.yaml"))
    assert result.returncode == 2 and "no such file" in result.stderr


def test_set_overrides_are_checked_and_located(cli, tmp_path, sample):
    config = write(
        tmp_path,
        f"""
        stages:
          - JsonlReader: {{file_paths: {sample}}}
          - ScoreFilter:
              filter_obj: {{WordCountFilter: {{min_words: 5}}}}
          - JsonlWriter: {{path: {tmp_path}/out}}
        """,
    )
    result = cli(
        "describe",
        str(config),
        "--set",
        "stages.1.params.filter_obj.WordCountFilter.min_words=lots",
        "--set",
        "executor.config.mode=sideways",
    )
    assert result.returncode == 2, str(result)
    line = issue_line(result, "parameter 'min_words'")
    assert "--set stages.1.params.filter_obj.WordCountFilter.min_words=lots" in line
    assert "mode" in issue_line(result, "--set executor.config.mode=sideways")
    result = cli("describe", str(config), "--set", "stages.7.params.x=1", "--set", "novalue")
    assert result.returncode == 2, str(result)
    assert "no index 7" in issue_line(result, "--set stages.7.params.x=1")
    assert "expected key=value" in issue_line(result, "--set novalue")
    # a valid override, in the short form's own words: stages.N.<ClassName>.param
    result = cli("describe", str(config), "--set", "stages.1.ScoreFilter.invert=true", "--json")
    assert result.returncode == 0, str(result)
    assert '"invert": true' in result.stdout


def test_executor_options(cli, assert_no_ray, tmp_path, sample):
    config = write(
        tmp_path,
        f"""
        executor: {{type: ray_actor_poll}}
        stages:
          - JsonlReader: {{file_paths: {sample}}}
        """,
    )
    result = cli("run", str(config))
    assert result.returncode == 2, str(result)
    line = issue_line(result, "unknown executor type 'ray_actor_poll'")
    assert f"{config}:1" in line and "Did you mean 'ray_actor_pool'" in line and "local" in line
    config = write(tmp_path, f"stages:\n  - JsonlReader: {{file_paths: {sample}}}\n", "ok.yaml")
    result = cli(
        "run",
        str(config),
        "--set",
        "executor.type=local",
        "--address",
        "ray://somewhere:10001",
        "--checkpoint-dir",
        str(tmp_path / "ckpt"),
    )
    assert result.returncode == 2, str(result)
    assert "--address: does not apply to the local executor" in result.stderr
    assert "--checkpoint-dir: not supported yet: the local executor has no checkpoint_dir" in result.stderr
    assert_no_ray(result)
    result = cli("run", str(config), "--start-over")
    assert result.returncode == 2 and "--start-over needs --checkpoint-dir" in result.stderr
