"""MegatronTokenizerWriter: files read back with Megatron Core's own indexed-dataset reader."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pyarrow as pa
import pytest
from handoff_data import license_texts
from tokenizers import Tokenizer, models, pre_tokenizers

from raycurator.backends.local import LocalExecutor
from raycurator.backends.ray_actor_pool import RayActorPoolExecutor
from raycurator.pipeline import Pipeline
from raycurator.stages.text.io.reader import JsonlReader
from raycurator.stages.text.io.writer.megatron_tokenizer import MegatronTokenizerWriter
from raycurator.tasks import DocumentBatch, FileGroupTask
from raycurator.tasks.utils import TaskPerfUtils


def megatron_reader():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from megatron.core.datasets.indexed_dataset import IndexedDataset
    return IndexedDataset


def texts_sample(count: int = 30) -> list[str]:
    paragraphs = [p.strip() for text in license_texts() for p in text.split("\n\n") if p.strip()]
    return [*paragraphs[:count], "", "unicode é 日本 🙂 tab\t end"]


@pytest.mark.parametrize("append_eod", [True, False])
def test_megatron_core_reads_the_same_token_ids(tmp_path, small_tokenizer, append_eod):
    texts = texts_sample()
    writer = MegatronTokenizerWriter(
        str(tmp_path / "out"), model_identifier=str(small_tokenizer), append_eod=append_eod, tokenization_batch_size=7
    )
    writer.setup()
    out = writer.process(DocumentBatch(task_id="part-0", dataset_name="d", data=pa.table({"text": texts})))
    assert isinstance(out, FileGroupTask)
    assert out.data == [str(tmp_path / "out" / "part-0.bin"), str(tmp_path / "out" / "part-0.idx")]

    tokenizer = Tokenizer.from_file(str(small_tokenizer / "tokenizer.json"))
    eod = tokenizer.token_to_id("<|endoftext|>")
    expected = [e.ids + ([eod] if append_eod else []) for e in tokenizer.encode_batch(texts, add_special_tokens=False)]

    dataset = megatron_reader()(str(tmp_path / "out" / "part-0"))
    assert len(dataset) == len(texts)
    assert dataset.index.dtype == np.uint16
    assert [dataset[i].tolist() for i in range(len(dataset))] == expected
    assert dataset.get(3, offset=2, length=4).tolist() == expected[3][2:6]
    assert dataset.document_indices.tolist() == list(range(len(texts) + 1))
    assert out._metadata["num_tokens"] == sum(map(len, expected))
    assert out._metadata["eod_token_id"] == eod
    assert tokenizer.decode(dataset[0].tolist()[: len(expected[0]) - append_eod]) == texts[0]


def test_large_vocabulary_is_written_as_int32(tmp_path):
    vocab = {f"w{i}": i for i in range(70_000)}
    vocab["[UNK]"] = 70_000
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.save(str(tmp_path / "tokenizer.json"))
    texts = ["w1 w69999 w65536", "w0 unknown w65535 w70000"]
    writer = MegatronTokenizerWriter(str(tmp_path / "out"), model_identifier=str(tmp_path / "tokenizer.json"))
    writer.setup()
    writer.process(DocumentBatch(task_id="big", dataset_name="d", data=pa.table({"text": texts})))
    dataset = megatron_reader()(str(tmp_path / "out" / "big"))
    assert dataset.index.dtype == np.int32
    assert [dataset[i].tolist() for i in range(2)] == [[1, 69999, 65536], [0, 70000, 65535, 70000]]


def test_no_eos_token_turns_append_eod_off_and_bad_inputs_are_named(tmp_path, caplog):
    vocab = {"a": 0, "b": 1, "[UNK]": 2}
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.save(str(tmp_path / "tokenizer.json"))
    writer = MegatronTokenizerWriter(str(tmp_path / "out"), model_identifier=str(tmp_path), append_eod=True)
    writer.setup()
    assert not writer.append_eod and "no end-of-document token" in caplog.text
    with pytest.raises(ValueError, match=r"task 'nulls' row 1 has no text"):
        writer.process(DocumentBatch(task_id="nulls", dataset_name="d", data=pa.table({"text": ["a", None]})))

    with pytest.raises(FileNotFoundError, match="not downloaded"):
        MegatronTokenizerWriter(str(tmp_path), model_identifier="gpt2").setup()
    with pytest.raises(ValueError, match="hf_token"):
        MegatronTokenizerWriter(str(tmp_path), model_identifier="x", hf_token="secret")
    with pytest.raises(ValueError, match="local_files_only"):
        MegatronTokenizerWriter(str(tmp_path), model_identifier="x", transformers_init_kwargs={"local_files_only": 1})
    with pytest.raises(ValueError, match="model_identifier"):
        MegatronTokenizerWriter(str(tmp_path))
    explicit = MegatronTokenizerWriter(
        str(tmp_path / "o2"), model_identifier=str(tmp_path), append_eod=True,
        transformers_init_kwargs={"eos_token": "b"},
    )  # fmt: skip
    explicit.setup()
    explicit.process(DocumentBatch(task_id="x", dataset_name="d", data=pa.table({"text": ["a a"]})))
    dataset = megatron_reader()(str(tmp_path / "o2" / "x"))  # keep it alive: its arrays view its mmap
    assert dataset[0].tolist() == [0, 0, 1]


def test_pipeline_on_ray_writes_one_pair_per_file_and_counts_tokens(tmp_path, small_tokenizer, shared_ray):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    texts = texts_sample(24)[:24]
    for part in range(3):
        rows = [json.dumps({"text": t}) for t in texts[part::3]]
        (corpus / f"part-{part}.jsonl").write_text("\n".join(rows) + "\n", encoding="utf-8")
    out = tmp_path / "tokens"
    stages = [
        JsonlReader(str(corpus)),
        MegatronTokenizerWriter(str(out), model_identifier=str(small_tokenizer / "tokenizer.json"), append_eod=True),
    ]
    results = Pipeline("tok", stages=stages).run(RayActorPoolExecutor())
    assert sorted(p.name for p in out.iterdir() if p.suffix in (".bin", ".idx")) == sorted(
        f"corpus_00000{i}.{ext}" for i in range(3) for ext in ("bin", "idx")
    )
    tokenizer = Tokenizer.from_file(str(small_tokenizer / "tokenizer.json"))
    read_back = []
    for task in results:
        dataset = megatron_reader()(task._metadata["file_prefix"])
        read_back.extend(tokenizer.decode(dataset[i].tolist()[:-1]) for i in range(len(dataset)))
    assert sorted(read_back) == sorted(texts)
    expected_tokens = sum(len(e.ids) + 1 for e in tokenizer.encode_batch(texts, add_special_tokens=False))
    metrics = TaskPerfUtils.collect_stage_metrics(results)["megatron_tokenizer_writer"]
    assert metrics["custom.tokens"].sum() == expected_tokens
    assert metrics["custom.documents"].sum() == 24

    before = {p.name: p.read_bytes() for p in out.iterdir() if p.suffix in (".bin", ".idx")}
    Pipeline("tok", stages=stages).run(LocalExecutor())
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.suffix in (".bin", ".idx")} == before  # same files
