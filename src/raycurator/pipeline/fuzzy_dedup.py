"""`FuzzyDeduplicationWorkflow`: MinHash-LSH near-duplicate detection on CPUs, optional removal.

NeMo Curator 1.4's class (`stages.deduplication.fuzzy.workflow`, where it imports from here
too) with its parameters, order and defaults; it runs pipelines, so it lives at the pipeline
layer. Identification pass: read (text and id only) -> ids "<task_id>_<row>" in
`_curator_dedup_id` (when the input has no `id_field`) -> MinHash signatures over character
n-grams -> LSH bucket ids per band (these three run fused, one call per partition) -> shuffle
by bucket, candidate pairs (NeMo's BucketsToEdges) -> [with `verify=True`: two shuffles joining
each pair with its texts, dropping pairs whose n-gram Jaccard is below `jaccard_threshold`] ->
connected components (one barrier), all but the smallest id of each component written as
Parquet under ``<output_path>/FuzzyDuplicateIds`` (the id column and `_duplicate_of`).

Removal pass (``perform_removal=True``; NeMo Curator 1.4 raises NotImplementedError): read
everything again with the same partitions, so the same ids -> drop the listed duplicates ->
write the documents under ``<output_path>/deduplicated``.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

from raycurator.pipeline.dedup_workflow import DeduplicationWorkflowBase
from raycurator.stages.base import ProcessingStage
from raycurator.stages.deduplication.fuzzy.buckets import BucketsToCandidatePairs
from raycurator.stages.deduplication.fuzzy.connected_components import InMemoryConnectedComponentsStage
from raycurator.stages.deduplication.fuzzy.jaccard import CandidatePairTextJoin, JaccardVerificationStage
from raycurator.stages.deduplication.fuzzy.lsh import InMemoryLSHStage, resolve_lsh_params
from raycurator.stages.deduplication.fuzzy.minhash import InMemoryMinHashStage
from raycurator.stages.deduplication.workflow_utils import check_filetype, join_path

logger = logging.getLogger(__name__)

DUPLICATE_IDS_DIR = "FuzzyDuplicateIds"
EDGES_DIR = "FuzzyDuplicatePairs"

__all__ = ["DUPLICATE_IDS_DIR", "EDGES_DIR", "FuzzyDeduplicationWorkflow", "resolve_workflow_lsh"]


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

    NeMo Curator's parameters:
        cache_path: where intermediates go: the verified pairs (``FuzzyDuplicatePairs/``) when
            `verify` is on.
        output_path: where ``FuzzyDuplicateIds/`` and ``deduplicated/`` are written.
        input_path: a directory, glob, file or list of files (unused when `run` gets `initial_tasks`).
        input_filetype: "jsonl" or "parquet".
        input_blocksize: bytes of input files per partition (whole files; see `files_per_partition`).
        input_file_extensions, read_kwargs, write_kwargs: reader and writer options.
        cache_kwargs: accepted; intermediates are written with fsspec defaults.
        text_field: the column holding the text.
        perform_removal: also write the deduplicated documents (NeMo Curator 1.4 only identifies).
        seed: seed of the MinHash permutations.
        char_ngrams: characters per shingle.
        num_bands, minhashes_per_band: the LSH banding (signature length = their product).
        use_64_bit_hash: must be False (the signatures here are 32-bit).
        normalize_text, bands_per_iteration, lsh_rmm_pool_size, lsh_spill_memory_limit,
        env_vars, use_async_memory: accepted; no effect (GPU tuning, or all bands at once).
        lsh_num_output_partitions: output partitions of the bucket shuffle (None: one per input
            partition).

    Keyword-only additions: `id_field` (a column of unique ids; None assigns them),
    `output_filetype`, `files_per_partition`, `verify` (check candidate pairs' true n-gram
    Jaccard; off as in NeMo Curator), `jaccard_threshold`/`threshold`, `num_perm` (alone: bands x
    rows chosen from the threshold), `bands`/`rows` (aliases), `all_pairs_max_size` and
    `num_anchors` (a bucket of at most `all_pairs_max_size` members yields all its pairs, a
    larger one pairs each member with `num_anchors` anchors), `keep_assigned_ids`, `overwrite`.
    """

    _label = "fuzzy dedup"

    def __init__(
        self,
        cache_path: str,
        output_path: str,
        input_path: str | list[str] | None = None,
        input_filetype: Literal["jsonl", "parquet"] = "parquet",
        input_blocksize: str | int = "1GiB",
        input_file_extensions: list[str] | None = None,
        read_kwargs: dict[str, Any] | None = None,
        cache_kwargs: dict[str, Any] | None = None,
        write_kwargs: dict[str, Any] | None = None,
        text_field: str = "text",
        perform_removal: bool = False,
        seed: int = 42,
        char_ngrams: int = 24,
        num_bands: int = _Default(20),
        minhashes_per_band: int = _Default(13),
        use_64_bit_hash: bool = False,
        normalize_text: bool = False,
        bands_per_iteration: int = 5,
        lsh_num_output_partitions: int | None = None,
        lsh_rmm_pool_size: int | Literal["auto"] | None = "auto",
        lsh_spill_memory_limit: int | Literal["auto"] | None = "auto",
        env_vars: dict[str, Any] | None = None,
        use_async_memory: bool = True,
        *,
        id_field: str | None = None,
        output_filetype: str | None = None,
        files_per_partition: int | None = None,
        verify: bool = False,
        jaccard_threshold: float = 0.8,
        threshold: float | None = None,
        num_perm: int | None = None,
        bands: int | None = None,
        rows: int | None = None,
        all_pairs_max_size: int = 16,
        num_anchors: int = 2,
        keep_assigned_ids: bool = False,
        overwrite: bool = False,
    ) -> None:
        if use_64_bit_hash:
            raise ValueError("FuzzyDeduplicationWorkflow: signatures are 32-bit; use_64_bit_hash=True is unsupported")
        if char_ngrams < 20:
            logger.warning("char_ngrams=%d: under 20 gives many false positives; 20 or more is advised", char_ngrams)
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
        if bands_per_iteration < 1:  # all bands are hashed at once here; the value has no other effect
            raise ValueError(f"bands_per_iteration must be >= 1, got {bands_per_iteration}")
        self.num_perm = self.num_bands * self.minhashes_per_band
        self.num_hashes = self.num_perm
        self.cache_path = cache_path
        self.output_path = output_path
        self.input_path = input_path
        self.input_filetype = check_filetype(input_filetype, "input_filetype")
        self.input_blocksize = input_blocksize
        self.input_file_extensions = input_file_extensions
        self.read_kwargs = dict(read_kwargs or {})
        self.cache_kwargs = dict(cache_kwargs or {})
        self.write_kwargs = dict(write_kwargs or {})
        self.text_field = text_field
        self.perform_removal = perform_removal
        self.seed = seed
        self.char_ngrams = char_ngrams
        self.use_64_bit_hash = use_64_bit_hash
        self.normalize_text = normalize_text
        self.bands_per_iteration = bands_per_iteration
        self.lsh_num_output_partitions = lsh_num_output_partitions
        self.env_vars = env_vars
        self.id_field = id_field
        self.output_filetype = check_filetype(output_filetype or self.input_filetype, "output_filetype")
        self.files_per_partition = files_per_partition
        self.verify = verify
        self.jaccard_threshold = jaccard_threshold
        self.all_pairs_max_size = all_pairs_max_size
        self.num_anchors = num_anchors
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
    def num_partitions(self) -> int | None:
        """Output partitions of each shuffle (`lsh_num_output_partitions`)."""
        return self.lsh_num_output_partitions

    @property
    def duplicate_ids_path(self) -> str:
        """Directory of the duplicate-id Parquet files."""
        return join_path(self.output_path, DUPLICATE_IDS_DIR)

    @property
    def edges_path(self) -> str | None:
        """Directory of the verified duplicate pairs (written only with `verify`)."""
        return join_path(self.cache_path, EDGES_DIR) if self.cache_path and self.verify else None

    def _extra_output_dirs(self) -> list[str]:
        return [self.edges_path] if self.edges_path else []

    def signature_stages(
        self, output_path: str | None = None, edges_path: str | None = None
    ) -> list[ProcessingStage]:
        """MinHash to connected components: document batches in, duplicate ids out.

        With `output_path` the last stage writes the ids there (Parquet) and returns
        `FileGroupTask`s; without, it returns `DocumentBatch`es of `(id, _duplicate_of)`. With
        `edges_path` (and `verify`), the verified pairs are written there too.
        """
        id_field = self._working_id_field
        text = self.text_field if self.verify else None
        stages: list[ProcessingStage] = [
            InMemoryMinHashStage(
                text_field=self.text_field,
                id_field=id_field,
                char_ngrams=self.char_ngrams,
                num_perm=self.num_perm,
                seed=self.seed,
                keep_text=self.verify,
            ),
            InMemoryLSHStage(self.num_bands, self.minhashes_per_band, id_field=id_field, text_field=text),
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
        stages.append(
            InMemoryConnectedComponentsStage(id_field=id_field, edges_path=edges_path, output_path=output_path)
        )
        return stages

    def identification_stages(self) -> list[ProcessingStage]:
        """Read, then `signature_stages`, whose last stage writes the duplicate ids."""
        fields = [self.text_field] + ([self.id_field] if self.id_field else [])
        return [*self._read_stages(fields), *self.signature_stages(self.duplicate_ids_path, self.edges_path)]
