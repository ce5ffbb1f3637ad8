"""`WikipediaDownloadExtractStage`: a Wikipedia dump → articles as plain text."""

from __future__ import annotations

from typing import Any

from raycurator.stages.text.download.base.stage import DocumentDownloadExtractStage
from raycurator.stages.text.download.base.url_generation import StaticUrlGenerator, URLGenerator
from raycurator.stages.text.download.wikipedia.download import WikipediaDownloader
from raycurator.stages.text.download.wikipedia.extract import WikipediaExtractor
from raycurator.stages.text.download.wikipedia.iterator import WikipediaIterator
from raycurator.stages.text.download.wikipedia.url_generation import WikipediaUrlGenerator


class WikipediaDownloadExtractStage(DocumentDownloadExtractStage):
    """Downloads a Wikipedia dump (`language`, `dump_date` "YYYYMMDD" or the newest finished one)
    and extracts each article's text.

    `dump_files` (paths or URLs of `pages-articles*.xml[.bz2]` files) replaces the dump lookup;
    local files are read where they are. Output columns: `text`, `title`, `id`, `url`,
    `language`, `source_id` (and `file_name`).
    """

    def __init__(
        self,
        language: str = "en",
        download_dir: str = "./wikipedia_downloads",
        dump_date: str | None = None,
        wikidumps_index_prefix: str = "https://dumps.wikimedia.org",
        verbose: bool = False,
        url_limit: int | None = None,
        record_limit: int | None = None,
        add_filename_column: bool | str = True,
        log_frequency: int = 1000,
        dump_files: list[str] | None = None,
        record_timeout_s: float | None = 60.0,
        storage_options: dict[str, Any] | None = None,
    ) -> None:
        self.language = language
        self.dump_date = dump_date
        url_generator: URLGenerator = (
            StaticUrlGenerator(dump_files)
            if dump_files
            else WikipediaUrlGenerator(language, dump_date, wikidumps_index_prefix, storage_options)
        )
        super().__init__(
            url_generator=url_generator,
            downloader=WikipediaDownloader(download_dir, verbose, storage_options),
            iterator=WikipediaIterator(language=language, log_frequency=log_frequency),
            extractor=WikipediaExtractor(language=language),
            url_limit=url_limit,
            record_limit=record_limit,
            add_filename_column=add_filename_column,
            record_timeout_s=record_timeout_s,
        )
        self._name = f"wikipedia_{language}_pipeline"

    def get_description(self) -> str:
        return f"Wikipedia {self.language} pipeline for dump {self.dump_date or 'latest'}"
