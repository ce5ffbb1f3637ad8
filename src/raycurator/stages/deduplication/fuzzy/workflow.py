"""`FuzzyDeduplicationWorkflow`: MinHash-LSH near-duplicate detection on CPUs, optional removal.

Identification pass (a plain list of stages, run by any executor): read (text and id only)
-> assign ids (when the input has none) -> MinHash signatures over character n-grams -> LSH
bucket ids per band -> shuffle by bucket, candidate pairs -> [verification: two shuffles
joining each pair with its texts, dropping pairs whose n-gram Jaccard is below
`jaccard_threshold`] -> connected components (barrier), smallest id kept per component ->
duplicate ids written as Parquet under ``<output_path>/FuzzyDuplicateIds``.

Removal pass (``perform_removal=True``): read everything again -> the same ids -> drop the
listed duplicates -> write the documents under ``<output_path>/deduplicated``.

LSH parameters take the names users of MinHash-LSH expect: `num_perm`, `num_bands`/`bands`,
`minhashes_per_band`/`rows`, `char_ngrams`, `jaccard_threshold`/`threshold`, `seed`. Give
`num_perm` (and neither bands nor rows) to have bands x rows chosen from the threshold.
"""

from __future__ import annotations

import logging
from typing import Any

from raycurator.stages.base import ProcessingStage
from raycurator.stages.deduplication.fuzzy.buckets import BucketsToCandidatePairs
from raycurator.stages.deduplication.fuzzy.connected_components import ConnectedComponentsStage
from raycurator.stages.deduplication.fuzzy.jaccard import CandidatePairTextJoin, JaccardVerificationStage
from raycurator.stages.deduplication.fuzzy.lsh import LSHStage, resolve_lsh_params
from raycurator.stages.deduplication.fuzzy.minhash import MinHashStage
from raycurator.stages.deduplication.workflow_utils import (
    DeduplicationWorkflowBase,
    check_filetype,
    join_path,
    make_writer,
)

logger = logging.getLogger(__name__)

DUPLICATE_IDS_DIR = "FuzzyDuplicateIds"
EDGES_DIR = "FuzzyDuplicatePairs"


class _Default(int):
    """An int default that can be told apart from the same value passed explicitly."""


def _pick(name: str, value: int | None, alias_name: str, alias: int | None) -> int | None:
    """The value of a parameter that has an alias; an explicit conflict is an error."""
    if alias is None:
        return value
    if value is not None and not isinstance(value, _Default) and int(value) != int(alias):
        raise ValueError(f"{name}={value} and {alias_name}={alias} disagree; give one of them")
    return int(alias)


def resolve_workflow_lsh(
    num_bands: int | None,
    minhashes_per_band: int | None,
    num_perm: int | None,
    jaccard_threshold: float,
) -> tuple[int, int]:
    """(bands, rows) of the workflow: explicit values win; `num_perm` alone picks from the threshold."""
    explicit_bands = num_bands if num_bands is not None and not isinstance(num_bands, _Default) else None
    explicit_rows = (
        minhashes_per_band
        if minhashes_per_band is not None and not isinstance(minhashes_per_band, _Default)
        else None
    )
    if num_perm is None:
        return resolve_lsh_params(
            int(num_bands if num_bands is not None else 20),
            int(minhashes_per_band if minhashes_per_band is not None else 13),
        )
    return resolve_lsh_params(explicit_bands, explicit_rows, int(num_perm), jaccard_threshold)


class FuzzyDeduplicationWorkflow(DeduplicationWorkflowBase):
    """Fuzzy (near-duplicate) deduplication of a JSONL or Parquet dataset, on CPUs.

    Args:
        input_path: a directory, glob, file or list of files (local paths or fsspec URLs).
        output_path: where ``FuzzyDuplicateIds/`` and ``deduplicated/`` are written.
        cache_path: where the verified duplicate pairs (``FuzzyDuplicatePairs/``) are written,
            when given.
        input_filetype: "jsonl" or "parquet"; `output_filetype` defaults to it.
        text_field: the column holding the text.
        id_field: a column of unique document ids; None assigns ``"<task_id>_<row>"`` ids.
        perform_removal: also write the deduplicated documents; False only identifies.
        seed: seed of the MinHash permutations.
        char_ngrams: characters per shingle.
        num_bands / bands, minhashes_per_band / rows: the LSH banding (num_perm = product).
        num_perm: signature length; alone (no bands/rows), bands x rows come from the threshold.
        jaccard_threshold / threshold: pairs below it are dropped by the verification.
        verify: compute the true n-gram Jaccard of candidate pairs (False trusts LSH).
        all_pairs_max_size, num_anchors: a bucket of at most `all_pairs_max_size` members
            yields all its pairs, a larger one pairs each member with `num_anchors` anchors.
        num_partitions: output partitions of each shuffle (None: one per input partition).
        overwrite: replace the output of an earlier run instead of refusing to.
    """

    _label = "fuzzy dedup"

    def __init__(
        self,
        input_path: str | list[str],
        output_path: str,
        cache_path: str | None = None,
        input_filetype: str = "jsonl",
        text_field: str = "text",
        id_field: str | None = None,
        perform_removal: bool = True,
        seed: int = 42,
        char_ngrams: int = 24,
        num_bands: int | None = _Default(20),
        minhashes_per_band: int | None = _Default(13),
        jaccard_threshold: float = 0.8,
        verify: bool = True,
        num_perm: int | None = None,
        bands: int | None = None,
        rows: int | None = None,
        threshold: float | None = None,
        output_filetype: str | None = None,
        input_blocksize: int | str | None = None,
        files_per_partition: int | None = None,
        input_file_extensions: list[str] | None = None,
        read_kwargs: dict[str, Any] | None = None,
        write_kwargs: dict[str, Any] | None = None,
        all_pairs_max_size: int = 16,
        num_anchors: int = 2,
        num_partitions: int | None = None,
        keep_assigned_ids: bool = False,
        overwrite: bool = False,
    ) -> None:
        if threshold is not None:
            if jaccard_threshold != 0.8 and jaccard_threshold != threshold:
                raise ValueError(f"jaccard_threshold={jaccard_threshold} and threshold={threshold} disagree")
            jaccard_threshold = threshold
        if not 0.0 < jaccard_threshold < 1.0:
            raise ValueError(f"jaccard_threshold must lie in (0, 1), got {jaccard_threshold}")
        num_bands = _pick("num_bands", num_bands, "bands", bands)
        minhashes_per_band = _pick("minhashes_per_band", minhashes_per_band, "rows", rows)
        self.num_bands, self.minhashes_per_band = resolve_workflow_lsh(
            num_bands, minhashes_per_band, num_perm, jaccard_threshold
        )
        self.num_perm = self.num_bands * self.minhashes_per_band
        self.input_path = input_path
        self.output_path = output_path
        self.cache_path = cache_path
        self.input_filetype = check_filetype(input_filetype, "input_filetype")
        self.output_filetype = check_filetype(output_filetype or self.input_filetype, "output_filetype")
        self.text_field = text_field
        self.id_field = id_field
        self.perform_removal = perform_removal
        self.seed = seed
        self.char_ngrams = char_ngrams
        self.jaccard_threshold = jaccard_threshold
        self.verify = verify
        self.input_blocksize = input_blocksize
        self.files_per_partition = files_per_partition
        self.input_file_extensions = input_file_extensions
        self.read_kwargs = dict(read_kwargs or {})
        self.write_kwargs = dict(write_kwargs or {})
        self.all_pairs_max_size = all_pairs_max_size
        self.num_anchors = num_anchors
        self.num_partitions = num_partitions
        self.keep_assigned_ids = keep_assigned_ids
        self.overwrite = overwrite

    # aliases users of MinHash-LSH expect
    @property
    def bands(self) -> int:
        return self.num_bands

    @property
    def rows(self) -> int:
        return self.minhashes_per_band

    @property
    def threshold(self) -> float:
        return self.jaccard_threshold

    @property
    def duplicate_ids_path(self) -> str:
        """Directory of the duplicate-id Parquet files."""
        return join_path(self.output_path, DUPLICATE_IDS_DIR)

    def signature_stages(self) -> list[ProcessingStage]:
        """MinHash to connected components: document batches in, duplicate-id batches out."""
        id_field = self._working_id_field
        text = self.text_field if self.verify else None
        stages: list[ProcessingStage] = [
            MinHashStage(
                text_field=self.text_field,
                id_field=id_field,
                char_ngrams=self.char_ngrams,
                num_perm=self.num_perm,
                seed=self.seed,
                keep_text=self.verify,
            ),
            LSHStage(self.num_bands, self.minhashes_per_band, id_field=id_field, text_field=text),
            BucketsToCandidatePairs(
                id_field=id_field,
                text_field=text,
                all_pairs_max_size=self.all_pairs_max_size,
                num_anchors=self.num_anchors,
                num_partitions=self.num_partitions,
            ),
        ]
        if self.verify:
            stages += [
                CandidatePairTextJoin(id_field, self.text_field, num_partitions=self.num_partitions),
                JaccardVerificationStage(
                    id_field,
                    self.text_field,
                    char_ngrams=self.char_ngrams,
                    jaccard_threshold=self.jaccard_threshold,
                    num_partitions=self.num_partitions,
                ),
            ]
        stages.append(ConnectedComponentsStage(id_field=id_field, edges_path=self.edges_path))
        return stages

    def identification_stages(self) -> list[ProcessingStage]:
        """The stages of the identification pass (reading to writing the duplicate ids)."""
        fields = [self.text_field] + ([self.id_field] if self.id_field else [])
        return [
            *self._read_stages(fields),
            *self.signature_stages(),
            make_writer(self.duplicate_ids_path, "parquet"),
        ]

    @property
    def edges_path(self) -> str | None:
        """Directory of the verified duplicate pairs (only with a cache_path)."""
        return join_path(self.cache_path, EDGES_DIR) if self.cache_path else None

    def _extra_output_dirs(self) -> list[str]:
        return [self.edges_path] if self.edges_path else []
