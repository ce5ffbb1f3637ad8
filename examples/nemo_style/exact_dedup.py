"""Exact deduplication in two passes, the way NeMo Curator 1.4 runs it: identify, then remove.

1. An id generator actor hands out integer ids per input file group; a pipeline of
   `FilePartitioningStage` -> `ExactDuplicateIdentification` writes the ids of duplicate
   documents as Parquet; the generator's state is saved next to them.
2. `TextDuplicatesRemovalWorkflow` reads the input again, gives every document the same id
   (from the saved generator state), drops the listed ones and writes the rest.

    python examples/nemo_style/exact_dedup.py --input examples/data/ --output out/
"""

from __future__ import annotations

import argparse
import os

from raycurator.backends.ray_actor_pool import RayActorPoolExecutor
from raycurator.pipeline import Pipeline
from raycurator.stages.deduplication.exact.identification import ExactDuplicateIdentification
from raycurator.stages.deduplication.id_generator import (
    CURATOR_DEDUP_ID_STR,
    create_id_generator_actor,
    kill_id_generator_actor,
    write_id_generator_to_disk,
)
from raycurator.stages.file_partitioning import FilePartitioningStage
from raycurator.stages.text.deduplication import TextDuplicatesRemovalWorkflow


def identify(input_path: str, cache_path: str, executor: RayActorPoolExecutor) -> str:
    """Write the duplicate ids under `cache_path`; return the saved id generator's file."""
    id_generator_file = os.path.join(cache_path, "exact_id_generator.json")
    create_id_generator_actor()
    try:
        pipeline = Pipeline(
            name="exact_dedup_identification",
            stages=[
                FilePartitioningStage(file_paths=input_path, files_per_partition=1, file_extensions=[".jsonl"]),
                ExactDuplicateIdentification(
                    text_field="text",
                    output_path=cache_path,
                    input_filetype="jsonl",
                    assign_id=True,
                ),
            ],
        )
        results = pipeline.run(executor)
        write_id_generator_to_disk(id_generator_file)
    finally:
        kill_id_generator_actor()
    print(f"identification wrote {sum(len(t.data) for t in results)} duplicate-id file(s)")
    return id_generator_file


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", default="examples/data/")
    parser.add_argument("--output", default="demo_output/nemo_style/exact_dedup")
    args = parser.parse_args()

    cache_path = os.path.join(args.output, "cache")
    executor = RayActorPoolExecutor()
    id_generator_file = identify(args.input, cache_path, executor)

    removal = TextDuplicatesRemovalWorkflow(
        input_path=args.input,
        ids_to_remove_path=os.path.join(cache_path, "ExactDuplicateIds"),
        output_path=os.path.join(args.output, "deduplicated"),
        input_filetype="jsonl",
        input_files_per_partition=1,
        input_file_extensions=[".jsonl"],
        duplicate_id_field=CURATOR_DEDUP_ID_STR,
        id_generator_path=id_generator_file,
        output_filetype="jsonl",
        drop_id_field=True,
    )
    result = removal.run(executor)
    print(
        f"removed {result.get_metadata('num_duplicates_removed')} duplicate document(s) "
        f"in {result.get_metadata('total_time'):.1f}s; output in {removal.output_path}"
    )


if __name__ == "__main__":
    main()
