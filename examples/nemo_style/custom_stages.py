"""Custom stages in the NeMo Curator 1.4 style: a dataclass stage, a decorated function, a source
stage started from `EmptyTask`, `NoneTask` filtering and `with_()`, run on Ray Data (or the actor pool).

The source stage makes `DocumentBatch`es from `EmptyTask` without giving them ids (NeMo Curator
1.4 assigns task ids itself); the pipeline then tags, filters and writes Parquet.

    python examples/nemo_style/custom_stages.py --output out/ --docs 40
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field

import pandas as pd

from raycurator.backends.ray_actor_pool import RayActorPoolExecutor
from raycurator.backends.ray_data import RayDataExecutor
from raycurator.pipeline import Pipeline
from raycurator.stages.base import ProcessingStage
from raycurator.stages.function_decorators import processing_stage
from raycurator.stages.resources import Resources
from raycurator.stages.text.io.writer import ParquetWriter
from raycurator.tasks import DocumentBatch, EmptyTask, NoneTask
from raycurator.tasks.utils import TaskPerfUtils

TOPICS = ["rivers", "bread", "music", "stars"]


@dataclass
class SyntheticDocuments(ProcessingStage[EmptyTask, DocumentBatch]):
    """Source stage: `num_batches` batches of short generated documents."""

    num_docs: int = 40
    num_batches: int = 4
    name: str = "synthetic_documents"
    resources: Resources = field(default_factory=lambda: Resources(cpus=1.0))

    def process(self, _: EmptyTask) -> list[DocumentBatch]:
        per_batch = max(1, self.num_docs // self.num_batches)
        batches = []
        for b in range(self.num_batches):
            rows = range(b * per_batch, (b + 1) * per_batch)
            texts = [f"Document {i} is about {TOPICS[i % len(TOPICS)]}. " * (1 + i % 3) for i in rows]
            frame = pd.DataFrame({"doc": list(rows), "text": texts})
            batches.append(DocumentBatch(dataset_name="synthetic", data=frame))
        return batches


@dataclass
class TopicTagger(ProcessingStage[DocumentBatch, DocumentBatch]):
    """Adds a `topic` column: the first known topic found in the text."""

    name: str = "topic_tagger"
    batch_size: int = 2

    def inputs(self) -> tuple[list[str], list[str]]:
        return ["data"], ["text"]

    def outputs(self) -> tuple[list[str], list[str]]:
        return ["data"], ["text", "topic"]

    def process(self, task: DocumentBatch) -> DocumentBatch:
        frame = task.to_pandas().copy()
        frame["topic"] = [next((t for t in TOPICS if t in text), "other") for text in frame["text"]]
        self._log_metric("tagged", len(frame))
        return DocumentBatch(
            dataset_name=task.dataset_name, data=frame, _stage_perf=task._stage_perf, _metadata=task._metadata
        )


@dataclass
class DropTopic(ProcessingStage[DocumentBatch, DocumentBatch]):
    """Drops the documents about `topic`; a batch left empty is filtered with `NoneTask`."""

    topic: str = "bread"
    name: str = "drop_topic"

    def process(self, task: DocumentBatch) -> DocumentBatch | NoneTask:
        frame = task.to_pandas()
        kept = frame[frame["topic"] != self.topic]
        if kept.empty:
            return NoneTask()
        return DocumentBatch(
            dataset_name=task.dataset_name, data=kept, _stage_perf=task._stage_perf, _metadata=task._metadata
        )


@processing_stage(name="word_counter", resources={"cpus": 1.0}, batch_size=1)
def word_counter(task: DocumentBatch) -> DocumentBatch:
    frame = task.to_pandas().copy()
    frame["words"] = frame["text"].str.split().str.len()
    return DocumentBatch(
        dataset_name=task.dataset_name, data=frame, _stage_perf=task._stage_perf, _metadata=task._metadata
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", default="demo_output/nemo_style/custom_stages")
    parser.add_argument("--docs", type=int, default=40)
    parser.add_argument("--executor", choices=["ray_data", "ray_actor_pool"], default="ray_data")
    args = parser.parse_args()

    pipeline = Pipeline(
        name="custom_stages",
        stages=[
            SyntheticDocuments(num_docs=args.docs),
            TopicTagger().with_(name="tagger", batch_size=4),
            DropTopic(topic="bread"),
            word_counter,
            ParquetWriter(path=args.output),
        ],
    )
    print(pipeline.describe())
    executor = RayDataExecutor() if args.executor == "ray_data" else RayActorPoolExecutor()
    results = pipeline.run(executor)

    files = sorted(path for task in results for path in task.data)
    frame = pd.concat([pd.read_parquet(path) for path in files], ignore_index=True)
    metrics = TaskPerfUtils.collect_stage_metrics(results)
    print(f"{len(frame)} documents kept in {len(files)} file(s) under {args.output}")
    print("topics:", dict(sorted(frame["topic"].value_counts().items())))
    print("documents tagged:", int(metrics["tagger"]["custom.tagged"].sum()))


if __name__ == "__main__":
    main()
