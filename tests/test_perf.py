"""StagePerfStats arithmetic and serialisation; StageTimer measurements."""

from __future__ import annotations

import json
import time

import pytest

from raycurator.perf import StagePerfStats, StageTimer


def _stats(name: str = "s", scale: float = 1.0, **custom: float) -> StagePerfStats:
    return StagePerfStats(
        stage_name=name,
        process_time=1.5 * scale,
        actor_idle_time=0.25 * scale,
        input_data_size_mb=2.0 * scale,
        num_items_processed=int(4 * scale),
        custom_metrics=dict(custom),
    )


def test_add_sums_fields_and_merges_custom_metrics():
    a = _stats(scale=1.0, kept=1.0, dropped=2.0)
    b = _stats(scale=2.0, dropped=5.0, other=3.0)
    total = a + b
    assert total.stage_name == "s"
    assert total.process_time == pytest.approx(4.5)
    assert total.actor_idle_time == pytest.approx(0.75)
    assert total.input_data_size_mb == pytest.approx(6.0)
    assert total.num_items_processed == 12
    assert total.custom_metrics == {"kept": 1.0, "dropped": 7.0, "other": 3.0}
    # operands are unchanged
    assert a.custom_metrics == {"kept": 1.0, "dropped": 2.0}
    assert b.custom_metrics == {"dropped": 5.0, "other": 3.0}
    assert a.process_time == pytest.approx(1.5)


def test_add_with_non_stats_is_type_error():
    with pytest.raises(TypeError):
        _ = _stats() + 1.0


def test_sum_of_stats():
    parts = [_stats(scale=s, n=s) for s in (1.0, 2.0, 3.0)]
    total = sum(parts)
    assert isinstance(total, StagePerfStats)
    assert total.process_time == pytest.approx(1.5 * 6)
    assert total.num_items_processed == 4 + 8 + 12
    assert total.custom_metrics == {"n": 6.0}


def test_sum_single_is_equal():
    only = _stats(x=1.0)
    assert sum([only]) == only


def test_to_dict_is_plain_and_json_serialisable():
    stats = _stats(kept=3.0)
    data = stats.to_dict()
    assert data == {
        "stage_name": "s",
        "process_time": 1.5,
        "actor_idle_time": 0.25,
        "input_data_size_mb": 2.0,
        "num_items_processed": 4,
        "custom_metrics": {"kept": 3.0},
    }
    assert json.loads(json.dumps(data)) == data
    data["custom_metrics"]["kept"] = 99.0
    assert stats.custom_metrics == {"kept": 3.0}


def test_items_flattens_custom_metrics():
    pairs = _stats(kept=3.0, dropped=1.0).items()
    keys = [k for k, _ in pairs]
    assert keys[:4] == ["process_time", "actor_idle_time", "input_data_size_mb", "num_items_processed"]
    assert dict(pairs)["custom.kept"] == 3.0
    assert dict(pairs)["custom.dropped"] == 1.0
    assert "stage_name" not in keys
    assert "kept" not in keys


def test_stage_timer_first_call_has_no_idle_time():
    timer = StageTimer("t")
    timer.reinit(input_size_bytes=3 * 1024 * 1024)
    with timer.time_process(num_items=5):
        time.sleep(0.01)
    stats = timer.log_stats({"m": 2})
    assert stats.stage_name == "t"
    assert stats.actor_idle_time == 0.0
    assert stats.process_time >= 0.009
    assert stats.num_items_processed == 5
    assert stats.input_data_size_mb == pytest.approx(3.0)
    assert stats.custom_metrics == {"m": 2}


def test_stage_timer_idle_time_is_gap_between_calls():
    timer = StageTimer("t")
    timer.reinit()
    with timer.time_process():
        pass
    time.sleep(0.05)
    timer.reinit()
    with timer.time_process(2):
        pass
    stats = timer.log_stats()
    assert stats.actor_idle_time >= 0.045
    assert stats.actor_idle_time < 5.0
    assert stats.process_time < 0.05  # reset by reinit, not accumulated across calls
    assert stats.num_items_processed == 2
    assert stats.custom_metrics == {}


def test_stage_timer_accumulates_within_one_measurement_and_times_on_error():
    timer = StageTimer("t")
    timer.reinit()
    with timer.time_process(1):
        time.sleep(0.01)
    with pytest.raises(RuntimeError), timer.time_process(2):
        time.sleep(0.01)
        raise RuntimeError("boom")
    stats = timer.log_stats()
    assert stats.num_items_processed == 3
    assert stats.process_time >= 0.018


def test_log_stats_copies_custom_metrics():
    timer = StageTimer("t")
    timer.reinit()
    metrics = {"a": 1.0}
    stats = timer.log_stats(metrics)
    metrics["a"] = 5.0
    assert stats.custom_metrics == {"a": 1.0}
