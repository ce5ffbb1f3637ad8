"""`WikipediaUrlGenerator`: the multistream article dump files of one Wikipedia dump."""

from __future__ import annotations

import json
import logging
import re
from typing import Any

import fsspec

from raycurator.stages.text.download.base.url_generation import URLGenerator

logger = logging.getLogger(__name__)

_DATE_LINK = re.compile(r'href="(\d{8})/?"')


def _read(url: str, storage_options: dict[str, Any]) -> bytes:
    with fsspec.open(url, "rb", **storage_options) as handle:
        return handle.read()


class WikipediaUrlGenerator(URLGenerator):
    """URLs of `<prefix>/<language>wiki/<dump_date>/`'s `articlesmultistreamdump` XML files.

    Without `dump_date`, the newest date listed in the wiki's index page whose
    `dumpstatus.json` says the articles dump is done.
    """

    def __init__(
        self,
        language: str = "en",
        dump_date: str | None = None,
        wikidumps_index_prefix: str = "https://dumps.wikimedia.org",
        storage_options: dict[str, Any] | None = None,
    ) -> None:
        self.language = language
        self.dump_date = dump_date
        self.wikidumps_index_prefix = wikidumps_index_prefix
        self.storage_options = dict(storage_options or {})

    def _wiki_url(self) -> str:
        return f"{self.wikidumps_index_prefix.rstrip('/')}/{self.language}wiki"

    def _status(self, date: str) -> dict[str, Any] | None:
        url = f"{self._wiki_url()}/{date}/dumpstatus.json"
        try:
            return json.loads(_read(url, self.storage_options))
        except FileNotFoundError:
            logger.warning("no dump status at %s", url)
        except (OSError, ValueError) as error:
            logger.warning("cannot read dump status %s: %s", url, error)
        return None

    @staticmethod
    def _done(status: dict[str, Any] | None) -> bool:
        return bool(status) and status.get("jobs", {}).get("articlesmultistreamdump", {}).get("status") == "done"

    def generate_urls(self) -> list[str]:
        if self.dump_date:
            date = self.dump_date.strip("/")
            status = self._status(date)
            if status is None:
                raise ValueError(f"cannot load the status of Wikipedia dump {date} at {self._wiki_url()}")
            if not self._done(status):
                raise ValueError(f"Wikipedia dump {date} is not finished")
        else:
            index = _read(self._wiki_url() + "/", self.storage_options).decode("utf-8", "replace")
            for date in sorted(set(_DATE_LINK.findall(index)), reverse=True):
                status = self._status(date)
                if self._done(status):
                    break
                logger.warning("Wikipedia dump %s is not finished; trying an older one", date)
            else:
                raise ValueError(f"no finished Wikipedia dump found at {self._wiki_url()}")
        files = status["jobs"]["articlesmultistreamdump"].get("files", {})
        urls = [f"{self._wiki_url()}/{date}/{name}" for name in files if "xml" in name]
        logger.info("found %d Wikipedia dump file(s) for %swiki %s", len(urls), self.language, date)
        return urls
