"""`WikipediaExtractor`: wikitext → plain text with mwparserfromhell (the MediaWiki parser for Python).

Per section (lead and headings included): links to files/images/media are removed, `<ref>`
and `<table>` tags are removed, category links keep their text without the prefix, the
markup is stripped, and magic words (`__NOTOC__`) dropped; sections are joined by blank lines.
"""

from __future__ import annotations

import contextlib
import re
from typing import Any

import mwparserfromhell

from raycurator.stages.text.download.base.extract import DocumentExtractor
from raycurator.stages.text.download.base.skips import SkipReason

#: Localised namespace names of media links, for the largest Wikipedias (English ones always apply).
MEDIA_ALIASES: dict[str, list[str]] = {
    "de": ["Medium", "Datei", "Bild"],
    "fr": ["Média", "Fichier"],
    "es": ["Medio", "Archivo", "Imagen"],
    "it": ["Immagine"],
    "pt": ["Multimédia", "Ficheiro", "Arquivo", "Imagem"],
    "nl": ["Bestand", "Afbeelding"],
    "pl": ["Plik", "Grafika"],
    "ru": ["Медиа", "Файл", "Изображение"],
    "ja": ["メディア", "ファイル", "画像"],
    "zh": ["媒体文件", "文件", "媒體", "档案", "图像", "圖像", "媒体", "檔案"],
    "sv": ["Fil", "Bild"],
}
#: Localised namespace names of category links.
CAT_ALIASES: dict[str, list[str]] = {
    "de": ["Kategorie"],
    "fr": ["Catégorie"],
    "es": ["CAT", "Categoría"],
    "it": ["CAT", "Categoria"],
    "pt": ["Categoria"],
    "nl": ["Categorie"],
    "pl": ["Kategoria"],
    "ru": ["Категория", "К"],  # noqa: RUF001 (the Cyrillic short form)
    "ja": ["カテゴリ"],
    "zh": ["分类", "分類", "CAT"],
    "sv": ["Kategori"],
}
_MAGIC_WORD = re.compile(r"__[A-Z]*__")
_DROPPED_TAGS = frozenset({"ref", "table"})


class WikipediaExtractor(DocumentExtractor):
    """Turns `{title, id, url, language, source_id, raw_content}` into `{text, title, id, url, language, source_id}`."""

    def __init__(self, language: str = "en") -> None:
        self._language = language
        media = "|".join(map(re.escape, ["File", "Image", "Media", *MEDIA_ALIASES.get(language, [])]))
        categories = "|".join(map(re.escape, ["Category", *CAT_ALIASES.get(language, [])]))
        self._media_link = re.compile(rf"^(?:{media}):", re.IGNORECASE)
        self._category_link = re.compile(rf"^(?:{categories}):", re.IGNORECASE)

    def input_columns(self) -> list[str]:
        return ["title", "id", "url", "language", "source_id", "raw_content"]

    def output_columns(self) -> list[str]:
        return ["text", "title", "id", "url", "language", "source_id"]

    def wikitext_to_text(self, wikitext: str) -> str:
        """The plain text of an article's wikitext."""
        sections = []
        for section in mwparserfromhell.parse(wikitext).get_sections(
            flat=True, include_lead=True, include_headings=True
        ):
            for link in section.ifilter_wikilinks(recursive=True):
                title = str(link.title)
                if self._media_link.match(title):
                    with contextlib.suppress(ValueError):  # already gone with an enclosing node
                        section.remove(link)
                elif self._category_link.match(title):
                    with contextlib.suppress(ValueError):
                        link.text = self._category_link.sub("", link.__strip__())
            for tag in section.ifilter_tags(matches=lambda node: str(node.tag) in _DROPPED_TAGS, recursive=True):
                with contextlib.suppress(ValueError):
                    section.remove(tag)
            sections.append(_MAGIC_WORD.sub("", section.strip_code().strip()))
        return "\n\n".join(sections)

    def extract(self, record: dict[str, Any]) -> dict[str, Any] | None:
        raw = record.get("raw_content")
        if not raw:
            self._count_skip(SkipReason.NO_TEXT)
            return None
        return {
            "text": self.wikitext_to_text(raw),
            "title": record["title"],
            "id": record["id"],
            "url": record["url"],
            "language": record["language"],
            "source_id": record["source_id"],
        }
