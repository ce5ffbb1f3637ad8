"""docs/compat.md stays true: every name it says is here imports from its path, every name it says
is absent is absent, and (with NeMo Curator's source at hand) no public name of the mirrored
NeMo modules is left out of it."""

from __future__ import annotations

import ast
import importlib
import os
import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "compat.md"
NEMO_SRC = Path(os.environ.get("NEMO_CURATOR_SRC", "/work/nemo_ref/src/nemo_curator"))
STATUSES = {"same", "differs", "absent"}
ROW = re.compile(r"^\| `(?P<path>[\w.]+)` \| (?P<names>[^|]+) \| (?P<status>\w+) \|(?P<notes>.*)\|$")


def inventory() -> list[tuple[str, list[str], str]]:
    """(module path, names, status) of every row of the module table."""
    rows = []
    for line in DOC.read_text(encoding="utf-8").splitlines():
        match = ROW.match(line)
        if match:
            names = re.findall(r"`(\w+)`", match["names"])
            rows.append((match["path"], names, match["status"]))
    return rows


def test_the_table_parses():
    rows = inventory()
    assert len(rows) > 40
    for path, names, status in rows:
        assert status in STATUSES, (path, status)
        assert names, path


@pytest.mark.parametrize(("path", "names", "status"), inventory(), ids=lambda v: v if isinstance(v, str) else None)
def test_every_claim_holds(path, names, status):
    try:
        module = importlib.import_module(f"raycurator.{path}")
    except ModuleNotFoundError:
        module = None
    if status == "absent":
        present = [n for n in names if module is not None and hasattr(module, n)]
        assert not present, f"raycurator.{path} has {present}: update docs/compat.md"
        return
    assert module is not None, f"docs/compat.md claims raycurator.{path} exists"
    missing = [n for n in names if not hasattr(module, n)]
    assert not missing, f"raycurator.{path} lacks {missing} that docs/compat.md claims"
    for name in names:  # names, not aliases of other things: the value resolves
        assert getattr(module, name) is not None or name.isupper()


def _nemo_public_names(path: str) -> list[str]:
    base = NEMO_SRC / path.replace(".", "/")
    source = base / "__init__.py" if base.is_dir() else base.with_suffix(".py")
    tree = ast.parse(source.read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            return [e.value for e in node.value.elts]
    names = []
    for node in tree.body:
        if isinstance(node, ast.ClassDef | ast.FunctionDef) and not node.name.startswith("_"):
            names.append(node.name)
        elif isinstance(node, ast.Assign):
            names += [t.id for t in node.targets if isinstance(t, ast.Name) and t.id.isupper() and t.id[0] != "_"]
    return names


@pytest.mark.skipif(not NEMO_SRC.is_dir(), reason="NeMo Curator's source is not at hand")
def test_no_public_nemo_name_of_a_listed_module_is_left_out():
    listed: dict[str, set[str]] = {}
    for path, names, _ in inventory():
        listed.setdefault(path, set()).update(names)
    left_out = {}
    for path, names in listed.items():
        missing = sorted(set(_nemo_public_names(path)) - names)
        if missing:
            left_out[path] = missing
    assert not left_out, f"public NeMo Curator names missing from docs/compat.md: {left_out}"
