"""The classes a YAML pipeline can name: registered stages and helper objects (filters, modifiers).

Importing every module under `raycurator.stages` fills the stage registry; helper classes are
the concrete subclasses of `HELPER_BASES` (document filters and modifiers) plus
`EXTRA_HELPERS` (`Resources`). A dotted path (`my_package.module.ClassName`) names any other
importable class.

Looking one name up (`find_stage_class`, `find_helper_class`) first imports only the modules
whose source defines a top-level `class NAME` (found by reading the files, not importing them):
a pipeline then pays for the modules it uses, not for every stage's dependencies (Common Crawl,
HTML extractors, ...). A name not found that way, and every listing, imports everything as before.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import logging
import pkgutil
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from raycurator.errors import PipelineConfigError
from raycurator.stages.base import ProcessingStage
from raycurator.stages.registry import get_stage_class, list_stage_classes
from raycurator.stages.resources import Resources
from raycurator.stages.text.filters.exclusion import ExclusionWriter

logger = logging.getLogger(__name__)

#: Packages whose modules are imported so that their stages register themselves.
STAGE_PACKAGES = ("raycurator.stages",)
#: Further modules defining stages (imported by `discover`).
STAGE_MODULES = ("raycurator.stages.deduplication.inline",)
#: Base classes (dotted paths) whose concrete subclasses may be named in YAML as helper objects.
HELPER_BASES = (
    "raycurator.stages.text.filters.doc_filter.DocumentFilter",
    "raycurator.stages.text.modifiers.doc_modifier.DocumentModifier",
    "raycurator.stages.text.download.html_extractors.base.HTMLExtractorAlgorithm",
    "raycurator.stages.text.download.base.url_generation.URLGenerator",
    "raycurator.stages.text.download.base.download.DocumentDownloader",
    "raycurator.stages.text.download.base.iterator.DocumentIterator",
    "raycurator.stages.text.download.base.extract.DocumentExtractor",
)
EXTRA_HELPERS: tuple[type, ...] = (Resources, ExclusionWriter)

#: Modules that failed to import during discovery: `{module: "ErrorType: message"}`.
IMPORT_PROBLEMS: dict[str, str] = {}
_discovered = False


def discover() -> None:
    """Import every stage module once (modules that fail to import are recorded, not fatal)."""
    global _discovered
    if _discovered:
        return
    _discovered = True
    for package_name in STAGE_PACKAGES:
        package = importlib.import_module(package_name)
        for module in pkgutil.walk_packages(package.__path__, package_name + ".", onerror=_record_walk_error):
            if module.name in sys.modules:
                continue
            try:
                importlib.import_module(module.name)
            except Exception as error:
                IMPORT_PROBLEMS[module.name] = f"{type(error).__name__}: {error}"
                logger.debug("could not import %s: %s", module.name, error)
    for name in STAGE_MODULES:
        try:
            importlib.import_module(name)
        except Exception as error:
            IMPORT_PROBLEMS[name] = f"{type(error).__name__}: {error}"


_CLASS_LINE = re.compile(r"^class\s+([A-Za-z_]\w*)\s*[(:]", re.MULTILINE)
_source_index: dict[str, list[str]] | None = None


def _module_files() -> list[tuple[str, Path]]:
    """(module name, source file) of every module of `STAGE_PACKAGES` and `STAGE_MODULES`, without importing them."""
    found: list[tuple[str, Path]] = []
    for package_name in STAGE_PACKAGES:
        spec = importlib.util.find_spec(package_name)
        roots = list(spec.submodule_search_locations or []) if spec is not None else []
        for root in roots:
            for path in sorted(Path(root).rglob("*.py")):
                parts = path.relative_to(root).with_suffix("").parts
                if parts[-1] == "__init__":
                    parts = parts[:-1]
                if all(part.isidentifier() for part in parts):
                    found.append((".".join((package_name, *parts)), path))
    for name in STAGE_MODULES:
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.origin:
            found.append((name, Path(spec.origin)))
    return found


def defining_modules(name: str) -> list[str]:
    """The stage modules whose source defines a top-level `class NAME` (read, not imported)."""
    global _source_index
    if _source_index is None:
        index: dict[str, list[str]] = {}
        for module_name, path in _module_files():
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue
            for class_name in _CLASS_LINE.findall(text):
                index.setdefault(class_name, []).append(module_name)
        _source_index = index
    return list(_source_index.get(name, []))


def _import_defining(name: str) -> bool:
    """Import the modules defining `name` (failures recorded like `discover`'s); whether any was found."""
    modules = defining_modules(name)
    for module_name in modules:
        if module_name in sys.modules:
            continue
        try:
            importlib.import_module(module_name)
        except Exception as error:
            IMPORT_PROBLEMS[module_name] = f"{type(error).__name__}: {error}"
            logger.debug("could not import %s: %s", module_name, error)
    return bool(modules)


def _record_walk_error(name: str) -> None:
    IMPORT_PROBLEMS[name] = f"{sys.exc_info()[0].__name__ if sys.exc_info()[0] else 'Error'}: {sys.exc_info()[1]}"


def _import_dotted(path: str) -> Any:
    module_name, _, attr = path.rpartition(".")
    if not module_name:
        raise ImportError(f"'{path}' is not a dotted path")
    module = importlib.import_module(module_name)
    return getattr(module, attr)


def _all_subclasses(base: type) -> list[type]:
    found: list[type] = []
    stack = list(base.__subclasses__())
    while stack:
        cls = stack.pop()
        found.append(cls)
        stack.extend(cls.__subclasses__())
    return found


def helper_classes() -> dict[str, type]:
    """Concrete helper classes (filters, modifiers, `Resources`) by class name."""
    discover()
    return _loaded_helper_classes()


def _loaded_helper_classes() -> dict[str, type]:
    """The helper classes among the modules imported so far."""
    helpers: dict[str, type] = {cls.__name__: cls for cls in EXTRA_HELPERS}
    for dotted in HELPER_BASES:
        module_name, _, attr = dotted.rpartition(".")
        base = getattr(sys.modules.get(module_name), attr, None)  # a base not imported has no subclass loaded
        if not isinstance(base, type):
            continue
        for cls in _all_subclasses(base):
            if inspect.isabstract(cls) or cls.__name__.startswith("_"):
                continue
            helpers.setdefault(cls.__name__, cls)
    return dict(sorted(helpers.items()))


def stage_classes() -> dict[str, type]:
    """Registered concrete stage classes by name (public ones: no leading underscore)."""
    discover()
    return {name: cls for name, cls in list_stage_classes().items() if not name.startswith("_")}


def find_stage_class(name: str) -> type[ProcessingStage]:
    """The stage class called `name` (registered name or importable dotted path)."""
    if "." in name:
        try:
            cls = _import_dotted(name)
        except (ImportError, AttributeError) as error:
            raise LookupError(f"cannot import stage class '{name}': {error}") from error
        if not (isinstance(cls, type) and issubclass(cls, ProcessingStage)):
            raise LookupError(f"'{name}' is not a ProcessingStage class")
        return cls
    if not _discovered and _import_defining(name):
        try:
            return get_stage_class(name)
        except PipelineConfigError:
            pass  # not (only) a stage of those modules: look everywhere
    discover()
    try:
        return get_stage_class(name)
    except PipelineConfigError as error:
        raise LookupError(str(error)) from error


def find_helper_class(name: str) -> type | None:
    """The registered helper or stage class called `name`, or None (dotted paths: `import_dotted`)."""
    if not _discovered and _import_defining(name):
        found = _loaded_helper_classes().get(name) or list_stage_classes().get(name)
        if found is not None:
            return found
    helpers = helper_classes()
    if name in helpers:
        return helpers[name]
    if name in stage_classes():
        return stage_classes()[name]
    return None


def is_dotted_path(name: str) -> bool:
    """Whether `name` looks like `package.module.ClassName` (dotted paths name code to import)."""
    parts = name.split(".")
    return len(parts) > 1 and all(part.isidentifier() for part in parts)


def import_dotted(path: str) -> Any:
    """Import the module of a dotted path and return the attribute it names (runs that module's code)."""
    return _import_dotted(path)


@dataclass
class ParamInfo:
    """One constructor parameter of a class."""

    name: str
    annotation: Any  # resolved type, or inspect.Parameter.empty when unknown
    annotation_text: str
    default: Any
    required: bool


def signature_of(cls: type) -> tuple[list[ParamInfo], bool]:
    """The named constructor parameters of `cls` and whether it also takes `**kwargs`."""
    try:
        signature = inspect.signature(cls)
    except (TypeError, ValueError):
        return [], True
    init = getattr(cls, "__init__", None)
    module = sys.modules.get(getattr(init, "__module__", None) or cls.__module__)
    namespace = dict(vars(module)) if module is not None else {}
    params: list[ParamInfo] = []
    takes_kwargs = False
    for param in signature.parameters.values():
        if param.kind is inspect.Parameter.VAR_KEYWORD:
            takes_kwargs = True
            continue
        if param.kind is inspect.Parameter.VAR_POSITIONAL:
            continue
        annotation = param.annotation
        text = annotation if isinstance(annotation, str) else inspect.formatannotation(annotation)
        if annotation is inspect.Parameter.empty:
            text = ""
        elif isinstance(annotation, str):
            try:
                annotation = eval(annotation, namespace, {})  # resolve postponed annotations
            except Exception:
                annotation = inspect.Parameter.empty
        params.append(
            ParamInfo(
                name=param.name,
                annotation=annotation,
                annotation_text=text,
                default=param.default,
                required=param.default is inspect.Parameter.empty,
            )
        )
    return params, takes_kwargs


def first_doc_line(cls: type) -> str:
    """The first line of the class docstring (empty when none of its own)."""
    doc = cls.__dict__.get("__doc__") or ""
    return doc.strip().splitlines()[0].strip() if doc.strip() else ""


def format_params(cls: type) -> str:
    """`a: int = 1, b: str` for a class's constructor."""
    params, takes_kwargs = signature_of(cls)
    parts = []
    for p in params:
        text = p.name + (f": {p.annotation_text}" if p.annotation_text else "")
        if not p.required:
            text += f" = {p.default!r}"
        parts.append(text)
    if takes_kwargs:
        parts.append("**kwargs")
    return ", ".join(parts)
