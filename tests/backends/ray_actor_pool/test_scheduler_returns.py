"""Fan-out calls return their outputs in chunks sized to the downstream batch (plain Python, no Ray)."""

from __future__ import annotations

import scheduler_driver as d

from raycurator.backends.ray_actor_pool.runtime import num_returns
from raycurator.backends.ray_actor_pool.scheduling.capacity import NodeCapacity
from raycurator.backends.ray_actor_pool.scheduling.items import BatchSummary, CallKind, TaskMeta
from raycurator.backends.ray_actor_pool.scheduling.operators import StageSpec


def test_a_stage_that_fans_out_switches_to_chunked_returns_and_items_point_into_chunks() -> None:
    drv = d.Driver([StageSpec("split"), StageSpec("next", batch_size=3)], [NodeCapacity("n1", 2.0)])
    drv.start(d.make_items(3))
    drv.step()
    drv.ready()
    first = drv.step()[0]
    assert first.call is CallKind.RUN and num_returns(first) == 2, "nothing is known about the stage yet"
    outputs = [TaskMeta(f"{first.items[0].meta.task_id}.{i}") for i in range(7)]
    drv.complete(first, BatchSummary(outputs=outputs, output_counts=[7]))
    later = [b for b in drv.step() if b.stage_index == 0]
    assert later and all(b.call is CallKind.RUN_CHUNKED and num_returns(b) == "streaming" for b in later)
    assert all(b.kwargs["chunk_size"] == 3 for b in later)
    chunked = later[0]
    metas = [TaskMeta(f"{chunked.items[0].meta.task_id}.{i}") for i in range(7)]
    drv.complete(chunked, BatchSummary(outputs=metas, output_counts=[7]), refs=["c0", "c1", "c2"])
    placed = [(i.ref, i.index) for i in drv.s.operators[1].queue if i.meta.task_id.startswith(chunked.task_ids[0])]
    assert placed == [("c0", 0), ("c0", 1), ("c0", 2), ("c1", 0), ("c1", 1), ("c1", 2), ("c2", 0)]
    drv.run()
    assert len(drv.s.results) == 7 + 7 + 1  # the third input runs with the fake default (one output)
    d.assert_balanced(drv.s)


def test_one_to_one_stages_keep_plain_calls() -> None:
    drv = d.Driver([StageSpec("a"), StageSpec("b")], [NodeCapacity("n1", 2.0)])
    drv.start(d.make_items(8))
    drv.run()
    assert all(b.call is CallKind.RUN for b in drv.dispatched)
