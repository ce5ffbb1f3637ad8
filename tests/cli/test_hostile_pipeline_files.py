"""Hostile pipeline files: dotted classes that are not what a parameter accepts, alias bombs, deep nesting."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

HOLDER_STAGE = '''
from typing import Any

from raycurator import ProcessingStage
from raycurator.stages.text.filters.doc_filter import DocumentFilter


class Holder(ProcessingStage):
    """Keeps whatever it is given (one unannotated and one Any parameter)."""

    def __init__(self, thing=None, other: Any = None) -> None:
        self.thing, self.other = thing, other

    def process(self, task):
        return task


class ShortDocs(DocumentFilter):
    """A user filter named by its dotted path."""

    def __init__(self, max_chars: int = 10) -> None:
        self.max_chars = max_chars

    def score_document(self, text: str) -> float:
        return len(text)

    def keep_document(self, score: float) -> bool:
        return score <= self.max_chars
'''


def user_env(root: Path) -> dict[str, str]:
    (root / "userstages.py").write_text(HOLDER_STAGE)
    return {"PYTHONPATH": f"{root}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}


def write(root: Path, text: str, name: str = "pipeline.yaml") -> Path:
    path = root / name
    path.write_text(textwrap.dedent(text))
    return path


def test_describe_never_constructs_a_class_the_parameter_does_not_accept(cli, tmp_path, assert_no_ray):
    marker = tmp_path / "PWNED"
    config = write(
        tmp_path,
        f"""
        stages:
          - ScoreFilter:
              filter_obj: {{subprocess.Popen: {{args: [touch, "{marker}"]}}}}
          - userstages.Holder:
              thing: {{subprocess.Popen: {{args: [touch, "{marker}"]}}}}
              other: {{os.system: {{command: "touch {marker}"}}}}
        """,
    )
    result = cli("describe", str(config), cwd=tmp_path, env=user_env(tmp_path))
    assert result.returncode == 2, str(result)
    assert not marker.exists(), "a class named in the pipeline file was constructed"
    assert_no_ray(result)
    assert "'subprocess.Popen' is not a subclass of DocumentFilter" in result.stderr, str(result)
    assert f"{config}:4" in result.stderr
    # unannotated / Any parameters take no dotted class at all: nothing is even imported
    assert "class 'subprocess.Popen' given to a parameter that accepts an unannotated value" in result.stderr
    assert "class 'os.system' given to a parameter that accepts an unannotated value" in result.stderr


def test_a_dotted_class_that_fits_the_parameter_is_built(cli, tmp_path):
    config = write(
        tmp_path,
        """
        stages:
          - ScoreFilter:
              filter_obj: {userstages.ShortDocs: {max_chars: 20}}
        """,
    )
    result = cli("describe", str(config), "--json", cwd=tmp_path, env=user_env(tmp_path))
    assert result.returncode == 0, str(result)
    assert "userstages.ShortDocs" in result.stdout


def test_alias_bomb_is_refused_quickly(cli, tmp_path):
    lines = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, 9):
        name, previous = chr(ord("a") + i), chr(ord("a") + i - 1)
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{previous}"] * 9) + "]")
    lines.append("stages: [{ScoreFilter: {filter_obj: *i}}]")
    config = tmp_path / "bomb.yaml"
    config.write_text("\n".join(lines) + "\n")
    assert config.stat().st_size < 1024
    result = cli("describe", str(config), timeout=60)
    assert result.returncode == 2, str(result)
    assert "expands to more than 100,000 values" in result.stderr
    assert result.seconds < 30
    recursive = write(tmp_path, "a: &a [1, *a]\nstages: [{ScoreFilter: {filter_obj: *a}}]\n", "loop.yaml")
    result = cli("describe", str(recursive))
    assert result.returncode == 2 and "refers to itself" in result.stderr, str(result)


def test_deep_nesting_is_a_pipeline_file_error(cli, tmp_path):
    for depth, name in ((3000, "deep.yaml"), (200, "deepish.yaml")):
        config = write(tmp_path, "stages: " + "[" * depth + "]" * depth + "\n", name)
        result = cli("describe", str(config))
        assert result.returncode == 2, str(result)
        assert "nests" in result.stderr and "Traceback" not in result.output, str(result)


def test_describe_does_not_print_secrets(cli, tmp_path):
    data = tmp_path / "in"
    data.mkdir()
    (data / "a.jsonl").write_text('{"text": "a"}\n')
    config = write(
        tmp_path,
        f"""
        stages:
          - JsonlReader:
              file_paths: "{data}"
              storage_options: {{key: AKIA-VISIBLE-ID, secret: hunter2-secret, client_kwargs: {{region_name: eu}}}}
        """,
    )
    for extra in ((), ("--json",)):
        result = cli("describe", str(config), *extra)
        assert result.returncode == 0, str(result)
        assert "hunter2-secret" not in result.output and "AKIA-VISIBLE-ID" not in result.output
        assert "region_name" in result.stdout
