"""fastText filters: language identification (`FastTextLangId`) and quality (`FastTextQualityFilter`)."""

from raycurator.stages.text.filters.fasttext.fasttext_filters import (
    FastTextLangId,
    FastTextQualityFilter,
    parse_langid_score,
)
from raycurator.stages.text.filters.fasttext.model_file import (
    ModelFileError,
    bundled_langid_model_path,
    check_model_file,
)

__all__ = [
    "FastTextLangId",
    "FastTextQualityFilter",
    "ModelFileError",
    "bundled_langid_model_path",
    "check_model_file",
    "parse_langid_score",
]
