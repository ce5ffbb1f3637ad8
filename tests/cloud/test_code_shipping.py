"""User code on a cluster: modules every node must import, the pre-run check, and `--working-dir`."""

from __future__ import annotations

import sys
import types
import uuid

import pytest

from raycurator.backends.code_shipping import UserCodeNotFoundError, check_code_on_nodes, needed_modules
from raycurator.backends.ray_cluster import alive_nodes
from raycurator.cli.build import CliOverrides, build
from raycurator.cli.config import load_config
from raycurator.stages.base import ProcessingStage
from raycurator.stages.text.filters import ScoreFilter
from raycurator.stages.text.filters.heuristic import WordCountFilter
from raycurator.stages.text.io.writer import JsonlWriter


def ghost_module() -> tuple[str, type]:
    """A module that exists in this process only (as the user's own file exists on the driver's host only)."""
    name = "rc_user_code_" + uuid.uuid4().hex[:8]
    module = types.ModuleType(name)
    source = (
        "from raycurator.stages.base import ProcessingStage\n"
        "class Shout(ProcessingStage):\n"
        "    name = 'shout'\n"
        "    def process(self, task):\n"
        "        return task\n"
    )
    exec(compile(source, f"/nowhere/{name}.py", "exec"), module.__dict__)
    module.__file__ = f"/nowhere/{name}.py"
    sys.modules[name] = module
    return name, module.Shout


def test_needed_modules_lists_user_code_only():
    name, shout = ghost_module()
    stages = [shout(), ScoreFilter(WordCountFilter(min_words=2)), JsonlWriter("out")]
    assert list(needed_modules(stages)) == [name]  # raycurator's own and the standard library's are not listed
    assert "stage 'shout'" in needed_modules(stages)[name]


class DefinedInMain(ProcessingStage):
    name = "main_stage"

    def process(self, task):
        return task


def test_classes_sent_by_value_need_no_import():
    DefinedInMain.__module__ = "__main__"  # a script's own classes: Ray sends them by value
    assert needed_modules([DefinedInMain()]) == {}


@pytest.mark.usefixtures("shared_ray")
def test_a_module_missing_on_the_workers_is_named_before_the_run():
    name, shout = ghost_module()
    with pytest.raises(UserCodeNotFoundError) as caught:
        check_code_on_nodes([shout()], alive_nodes())
    message = str(caught.value)
    assert f"module '{name}'" in message and "stage 'shout'" in message
    assert "cannot be imported on node" in message and "--working-dir" in message
    check_code_on_nodes([ScoreFilter(WordCountFilter(min_words=2))], alive_nodes())  # nothing to import: passes


def test_working_dir_option_ships_the_folder(tmp_path):
    pipeline = tmp_path / "p.yaml"
    pipeline.write_text(
        "executor: {type: ray_actor_pool, config: {runtime_env: {env_vars: {A: '1'}}}}\n"
        "stages:\n  - JsonlWriter: {path: out}\n"
    )
    built = build(load_config(pipeline), CliOverrides(working_dir=str(tmp_path)))
    assert built.executor.options.runtime_env == {"env_vars": {"A": "1"}, "working_dir": str(tmp_path)}
    local = tmp_path / "local.yaml"
    local.write_text("executor: {type: local}\nstages:\n  - JsonlWriter: {path: out}\n")
    with pytest.raises(Exception, match="--working-dir"):
        build(load_config(local), CliOverrides(working_dir=str(tmp_path)))


def test_cli_imports_stages_from_a_module_next_to_the_pipeline_file(tmp_path):
    from tests.cli.conftest import run_cli  # the command run as a user runs it: a subprocess

    module = "rc_next_to_yaml_" + uuid.uuid4().hex[:6]
    (tmp_path / f"{module}.py").write_text(
        "from raycurator.stages.base import ProcessingStage\n"
        "class Upper(ProcessingStage):\n"
        "    name = 'upper'\n"
        "    def process(self, task):\n"
        "        return task\n"
    )
    (tmp_path / "pipeline.yaml").write_text(f"stages:\n  - stage: {module}.Upper\n")
    result = run_cli("describe", str(tmp_path / "pipeline.yaml"), "--json")
    assert result.returncode == 0, str(result)
    assert "upper" in result.stdout
