"""WARC URLs of Common Crawl snapshots, read from the crawl's `warc.paths.gz` index files.

`data_prefix` (and, for the main crawl, `index_prefix`, which serves `collinfo.json`) are
parameters, so a mirror or a local test server can stand in for commoncrawl.org. Index files
are read through fsspec (http/https, s3, local paths).
"""

from __future__ import annotations

import gzip
import json
import logging
from abc import abstractmethod
from datetime import UTC, date, datetime, timedelta
from typing import Any

import fsspec

from raycurator.stages.text.download.base.url_generation import URLGenerator

logger = logging.getLogger(__name__)


def _join(prefix: str, path: str) -> str:
    return prefix.rstrip("/") + "/" + path.lstrip("/")


def _read(url: str, storage_options: dict[str, Any] | None) -> bytes:
    with fsspec.open(url, "rb", **(storage_options or {})) as handle:
        return handle.read()


class BaseCommonCrawlUrlGenerator(URLGenerator):
    """The WARC URLs of every snapshot from `start_snapshot_str` to `end_snapshot_str`."""

    def __init__(
        self,
        start_snapshot_str: str,
        end_snapshot_str: str,
        data_prefix: str = "https://data.commoncrawl.org",
        limit: int | None = None,
        storage_options: dict[str, Any] | None = None,
    ) -> None:
        self.start_snapshot_str = start_snapshot_str
        self.end_snapshot_str = end_snapshot_str
        self.data_prefix = data_prefix
        self.limit = limit
        self.storage_options = dict(storage_options or {})
        self._start_date, self._end_date = self._start_end_dates()

    @abstractmethod
    def _parse_datetime_from_snapshot_string(self, snapshot_str: str, for_start: bool) -> datetime:
        """The first (or, for the end, last) day the snapshot string covers."""

    @abstractmethod
    def generate_path_urls(self) -> list[str]:
        """The URLs of the `warc.paths.gz` files of the snapshots in range."""

    def _start_end_dates(self) -> tuple[date, date]:
        start = self._parse_datetime_from_snapshot_string(self.start_snapshot_str, for_start=True).date()
        end = self._parse_datetime_from_snapshot_string(self.end_snapshot_str, for_start=False).date()
        if start > end:
            raise ValueError(
                f"start snapshot '{self.start_snapshot_str}' is after end snapshot '{self.end_snapshot_str}'"
            )
        today = datetime.now(tz=UTC).date()
        if end > today:
            logger.warning("end snapshot %s is in the future; using today (%s)", end, today)
            end = today
        return start, end

    def generate_data_urls(self, path_urls: str | list[str] | None = None) -> list[str]:
        """The WARC URLs listed in the given (or generated) `warc.paths.gz` files.

        An index file that cannot be read or decompressed is an error naming it.
        """
        if path_urls is None:
            path_urls = self.generate_path_urls()
        if isinstance(path_urls, str):
            path_urls = [path_urls]
        urls: list[str] = []
        for path_url in path_urls:
            try:
                listing = gzip.decompress(_read(path_url, self.storage_options)).decode("utf-8")
            except FileNotFoundError as error:
                raise FileNotFoundError(f"Common Crawl index file not found: {path_url}") from error
            except (OSError, EOFError, UnicodeDecodeError) as error:
                raise ValueError(f"cannot read Common Crawl index file {path_url}: {error}") from error
            urls.extend(_join(self.data_prefix, line.strip()) for line in listing.splitlines() if line.strip())
        if self.limit is not None:
            urls = urls[: self.limit]
        return urls

    def generate_urls(self) -> list[str]:
        return self.generate_data_urls(self.generate_path_urls())


class MainCommonCrawlUrlGenerator(BaseCommonCrawlUrlGenerator):
    """Main crawl snapshots (`YYYY-WW`, ISO year and week), found in the index's `collinfo.json`."""

    def __init__(
        self,
        start_snapshot_str: str,
        end_snapshot_str: str,
        data_prefix: str = "https://data.commoncrawl.org",
        limit: int | None = None,
        index_prefix: str = "https://index.commoncrawl.org",
        storage_options: dict[str, Any] | None = None,
    ) -> None:
        self.index_prefix = index_prefix
        super().__init__(start_snapshot_str, end_snapshot_str, data_prefix, limit, storage_options)

    def _parse_datetime_from_snapshot_string(self, snapshot_str: str, for_start: bool) -> datetime:
        try:
            year, week = map(int, snapshot_str.split("-"))
        except ValueError as error:
            raise ValueError(f"invalid main crawl snapshot '{snapshot_str}'; use YYYY-WW, e.g. '2020-50'") from error
        if not 1 <= week <= 53:
            raise ValueError(f"week must be between 1 and 53, got '{snapshot_str}'")
        return datetime.fromisocalendar(year, week, 1)

    def _snapshot_index(self) -> list[dict[str, Any]]:
        url = _join(self.index_prefix, "collinfo.json")
        try:
            return json.loads(_read(url, self.storage_options))
        except (OSError, ValueError) as error:
            raise RuntimeError(f"cannot read the Common Crawl snapshot list {url}: {error}") from error

    def generate_path_urls(self) -> list[str]:
        start = max(self._start_date, date(2013, 1, 1))  # older crawls have another layout
        urls = []
        for info in self._snapshot_index():
            parts = str(info.get("id", "")).split("-")
            if len(parts) != 4 or parts[:2] != ["CC", "MAIN"]:
                continue
            try:
                year, week = int(parts[2]), int(parts[3])
                day = datetime.fromisocalendar(year, week, 1).date()
            except ValueError:
                logger.warning("ignoring snapshot id %r", info.get("id"))
                continue
            if start <= day <= self._end_date:
                urls.append(_join(self.data_prefix, f"crawl-data/CC-MAIN-{year}-{week:02d}/warc.paths.gz"))
        if not urls:
            logger.error("no main crawl snapshot between %s and %s", self.start_snapshot_str, self.end_snapshot_str)
        return urls


class NewsCommonCrawlUrlGenerator(BaseCommonCrawlUrlGenerator):
    """News crawl months (`YYYY-MM`, from 2016-08), newest first."""

    def _parse_datetime_from_snapshot_string(self, snapshot_str: str, for_start: bool) -> datetime:
        try:
            year, month = map(int, snapshot_str.split("-"))
            if not 1 <= month <= 12:
                raise ValueError(f"month out of range: {month}")
        except ValueError as error:
            raise ValueError(f"invalid news crawl snapshot '{snapshot_str}'; use YYYY-MM, e.g. '2020-08'") from error
        if for_start:
            return datetime(year, month, 1, tzinfo=UTC)
        following = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
        return following - timedelta(days=1)

    def generate_path_urls(self) -> list[str]:
        start = max(self._start_date, date(2016, 8, 1))
        year, month = start.year, start.month
        urls = []
        while date(year, month, 1) <= self._end_date:
            urls.append(_join(self.data_prefix, f"crawl-data/CC-NEWS/{year}/{month:02d}/warc.paths.gz"))
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        return urls[::-1]
