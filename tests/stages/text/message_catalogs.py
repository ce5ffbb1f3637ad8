"""Human-translated text in many languages: the message catalogs (.mo) that Django ships.

Django's user-facing messages are translated by people (through its translation teams), so
they are real text in each language that this project did not write. `catalog_documents`
joins the translated messages of a language into documents of about `chars` characters.
"""

from __future__ import annotations

import importlib.util
import re
import struct
from pathlib import Path

#: Django locale folder -> the LID-176 label of its language.
LANGUAGES = {
    "ar": "ar", "bg": "bg", "ca": "ca", "cs": "cs", "da": "da", "de": "de", "el": "el", "es": "es",
    "et": "et", "fa": "fa", "fi": "fi", "fr": "fr", "he": "he", "hi": "hi", "hu": "hu", "id": "id",
    "it": "it", "ja": "ja", "ko": "ko", "lt": "lt", "lv": "lv", "nl": "nl", "pl": "pl", "pt_BR": "pt",
    "ro": "ro", "ru": "ru", "sk": "sk", "sl": "sl", "sv": "sv", "th": "th", "tr": "tr", "uk": "uk",
    "vi": "vi", "zh_Hans": "zh",
}  # fmt: skip
_PLACEHOLDER = re.compile(r"%\([^)]*\)[sdfr]|%[sdfr]|\{[^}]*\}|<[^>]+>|&[a-z]+;")


def django_root() -> Path | None:
    """The installed Django package folder (None when Django is not installed)."""
    spec = importlib.util.find_spec("django")
    return Path(next(iter(spec.submodule_search_locations))) if spec and spec.submodule_search_locations else None


def read_mo(path: Path) -> list[str]:
    """The translated strings of a GNU gettext .mo file (plural forms split apart)."""
    data = path.read_bytes()
    (magic,) = struct.unpack_from("<I", data, 0)
    order = "<" if magic == 0x950412DE else ">"
    _revision, count, _originals, translations = struct.unpack_from(order + "4I", data, 4)
    texts = []
    for index in range(count):
        length, offset = struct.unpack_from(order + "2I", data, translations + 8 * index)
        texts.extend(part for part in data[offset : offset + length].decode("utf-8").split("\0") if part)
    return texts


def catalog_messages(root: Path, locale: str) -> list[str]:
    """Translated messages of `locale` from every Django catalog, without placeholders and markup."""
    messages: list[str] = []
    for mo in sorted(root.glob(f"**/locale/{locale}/LC_MESSAGES/django.mo")):
        for text in read_mo(mo):
            if text.startswith(("Project-Id-Version", "Content-Type")):  # the header entry
                continue
            clean = " ".join(_PLACEHOLDER.sub(" ", text).split())
            if len(clean) >= 12:
                messages.append(clean)
    return sorted(set(messages))


def catalog_documents(root: Path, locale: str, chars: int = 400, limit: int = 10) -> list[str]:
    """Up to `limit` documents of about `chars` characters of `locale`'s messages."""
    documents: list[str] = []
    current: list[str] = []
    size = 0
    for message in catalog_messages(root, locale):
        current.append(message)
        size += len(message) + 1
        if size >= chars:
            documents.append(" ".join(current))
            current, size = [], 0
            if len(documents) == limit:
                break
    return documents
