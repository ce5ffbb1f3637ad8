"""`NewlineNormalizer`: collapses runs of three or more line breaks to two (NeMo Curator's rule)."""

from __future__ import annotations

from collections.abc import Iterable

import pyarrow as pa
import pyarrow.compute as pc

from raycurator.stages.text._arrow_text import to_string_array
from raycurator.stages.text.modifiers.doc_modifier import VectorizedModifier


class NewlineNormalizer(VectorizedModifier):
    """Replaces 3+ consecutive "\\n" by "\\n\\n", then 3+ consecutive "\\r\\n" by "\\r\\n\\r\\n".

    Only consecutive breaks count: blank lines holding spaces separate runs, as in NeMo Curator.
    """

    def modify_documents(self, texts: pa.Array | pa.ChunkedArray | Iterable[str]) -> pa.Array:
        out = pc.replace_substring_regex(to_string_array(texts), r"\n{3,}", "\n\n")
        return pc.replace_substring_regex(out, r"(?:\r\n){3,}", "\r\n\r\n")
