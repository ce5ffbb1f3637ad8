"""The thin Ray layer: turns the scheduler's decisions into actors and calls, and results into events."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import ray
from ray.exceptions import (
    ActorUnschedulableError,
    GetTimeoutError,
    ObjectLostError,
    RayActorError,
    RayTaskError,
)

from raycurator.backends.failures import TaskFailure
from raycurator.backends.progress import ProgressReporter
from raycurator.backends.ray_actor_pool.adapter import actor_class_for, fetch_tasks
from raycurator.backends.ray_actor_pool.fusion import PlannedStage
from raycurator.backends.ray_actor_pool.scheduling.capacity import NodeCapacity
from raycurator.backends.ray_actor_pool.scheduling.items import Batch, CallKind, Item
from raycurator.backends.ray_actor_pool.scheduling.recovery import LOST_DATA_ERRORS
from raycurator.backends.ray_actor_pool.scheduling.scheduler import StreamingScheduler
from raycurator.backends.ray_cluster import alive_nodes, pinned, ray_gpus, run_setup_on_nodes
from raycurator.errors import PipelineStalledError
from raycurator.stages.base import ProcessingStage
from raycurator.tasks import Task

logger = logging.getLogger(__name__)

_ACTOR_GONE = (RayActorError,)
NODE_CHECK_INTERVAL_S = 1.0
SECURE_TIMEOUT_S = 60.0


@dataclass
class _Call:
    batch: Batch
    actor_id: str
    payload: list[Any]
    generator: Any = None


def _root_cause(error: BaseException) -> tuple[str, str]:
    """(type, message) of the exception behind a Ray error (its traceback's last line)."""
    cause = getattr(error, "cause", None)
    if isinstance(cause, BaseException) and not isinstance(cause, RayActorError | RayTaskError):
        return type(cause).__name__, str(cause)
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    last = lines[-1] if lines else type(error).__name__
    name, _, message = last.partition(": ")
    if name.replace(".", "").replace("_", "").isalnum() and message:
        return name.rsplit(".", 1)[-1], message
    return type(error).__name__, last


#: The actor method behind each kind of call.
ACTOR_METHODS = {
    CallKind.RUN: "run",
    CallKind.RUN_CHUNKED: "run_chunked",
    CallKind.SHUFFLE_MAP: "shuffle_map",
    CallKind.SHUFFLE_REDUCE: "shuffle_reduce",
}


def num_returns(batch: Batch) -> int | str:
    """How many objects the call returns: outputs then the summary ("streaming": a generator)."""
    if batch.call is CallKind.RUN_CHUNKED:
        return "streaming"
    if batch.call is CallKind.SHUFFLE_MAP:
        return batch.kwargs["num_partitions"] + 1
    return 2


class PoolRuntime:
    """Owns the Ray actors of one run and the calls in flight."""

    def __init__(
        self,
        stages: list[PlannedStage],
        scheduler: StreamingScheduler,
        runtime_env: dict[str, Any] | None = None,
        progress: ProgressReporter | None = None,
        teardown_timeout_s: float = 30.0,
        run_id: str = "",
        on_skipped: Callable[[TaskFailure], None] | None = None,
        node_setup_stages: list[ProcessingStage] | None = None,
        ignore_head_node: bool = False,
        known_nodes: list[str] | None = None,
        stall_timeout_s: float | None = None,
    ) -> None:
        """`node_setup_stages` run `setup_on_node` on nodes that join during the run; `known_nodes`
        are the nodes seen at the start (a node missing from the cluster later was lost); after
        `stall_timeout_s` seconds in which no call returned and no actor was starting, the run stops."""
        self.run_id = run_id
        self.stall_timeout_s = stall_timeout_s
        members = [stage for planned in stages for stage in planned.members]
        self.node_setup_stages = node_setup_stages if node_setup_stages is not None else members
        self.ignore_head_node = ignore_head_node
        self._known_nodes = set(known_nodes if known_nodes is not None else scheduler.nodes)
        self._next_node_check = 0.0
        self.nodes_lost: list[str] = []
        self.nodes_added: list[str] = []
        self.nodes_refused: list[str] = []  # joined, but their stages' setup_on_node failed there
        self.on_skipped = on_skipped  # gets each skipped failure as soon as it is decided
        self._skipped_sent = 0
        self.stages = stages
        self.scheduler = scheduler
        self.runtime_env = runtime_env
        self.progress = progress
        self.teardown_timeout_s = teardown_timeout_s
        self._classes: dict[int, Any] = {}
        self._stage_refs: dict[int, Any] = {}
        self.handles: dict[str, Any] = {}
        self._starting: dict[Any, str] = {}
        self._calls: dict[Any, _Call] = {}
        self._stopping: list[tuple[Any, Any, str]] = []

    # -- actors --------------------------------------------------------------------------------
    def _actor_class(self, index: int) -> Any:
        if index not in self._classes:
            planned = self.stages[index]
            self._classes[index] = ray.remote(actor_class_for(planned.actor_class_name, planned.adapter_class))
            self._stage_refs[index] = ray.put(planned.actor_argument)
        return self._classes[index]

    def _create(self, actor_id: str, index: int, node_id: str) -> None:
        """Start one actor of step `index` on `node_id` (the one place actors are created)."""
        stage = self.stages[index].lead
        options: dict[str, Any] = {
            "num_cpus": 0,
            "num_gpus": ray_gpus(stage),
            "scheduling_strategy": pinned(node_id),
            "max_restarts": 0,
            "max_concurrency": 1,
            "name": f"raycurator-{self.run_id}-{actor_id}",
        }
        runtime_env = {**(self.runtime_env or {}), **(getattr(stage, "runtime_env", None) or {})}
        if runtime_env:  # the stage's own (with_(runtime_env=...)) wins over the executor's
            options["runtime_env"] = runtime_env
        handle = self._actor_class(index).options(**options).remote(self._stage_refs[index])
        self.handles[actor_id] = handle
        self._starting[handle.ready.remote()] = actor_id

    def _stop(self, actor_id: str) -> None:
        handle = self.handles.pop(actor_id, None)
        if handle is not None:
            self._stopping.append((handle.teardown.remote(), handle, actor_id))

    def _reap_stopped(self, force: bool = False) -> None:
        """Kill actors whose teardown returned (all of them when `force`)."""
        if not self._stopping:
            return
        refs = [ref for ref, _, _ in self._stopping]
        done, _ = ray.wait(refs, num_returns=len(refs), timeout=0)
        finished = set(done)
        still = []
        for ref, handle, actor_id in self._stopping:
            if ref in finished or force:
                if ref in finished:
                    try:
                        ray.get(ref)
                    except Exception as error:  # teardown failures are logged, never fatal
                        logger.warning("teardown of actor %s failed: %s", actor_id, error)
                ray.kill(handle, no_restart=True)
            else:
                still.append((ref, handle, actor_id))
        self._stopping = still

    # -- calls ----------------------------------------------------------------------------------
    def _submit(self, batch: Batch) -> None:
        assert batch.actor_id is not None
        handle = self.handles[batch.actor_id]
        op_spec = self.scheduler.specs[batch.stage_index]
        args = [(item.ref, item.index) for item in batch.items]
        returns = num_returns(batch)
        method = getattr(handle, ACTOR_METHODS[batch.call]).options(num_returns=returns)
        result = method.remote(args, isolate_failures=op_spec.on_error == "skip", **batch.kwargs)
        if returns == "streaming":  # a generator: wait for it to finish, then take its refs
            self._calls[result.completed()] = _Call(batch, batch.actor_id, [], result)
            return
        refs = list(result) if isinstance(result, list | tuple) else [result]
        self._calls[refs[-1]] = _Call(batch, batch.actor_id, refs[:-1])

    # -- cluster membership --------------------------------------------------------------------
    def _watch_nodes(self, now: bool = False) -> None:
        """Tell the scheduler about nodes that left or joined (checked about once a second)."""
        if not now and time.monotonic() < self._next_node_check:
            return
        self._next_node_check = time.monotonic() + NODE_CHECK_INTERVAL_S
        alive = {node.node_id: node for node in alive_nodes(self.ignore_head_node)}
        for node_id in sorted(self._known_nodes - set(alive)):
            self._known_nodes.discard(node_id)
            if node_id not in self.scheduler.nodes:
                continue
            logger.warning("node %s left the cluster: replacing its actors and recomputing data kept there", node_id)
            self.nodes_lost.append(node_id)
            for actor_id in self.scheduler.on_node_lost(node_id):
                self.handles.pop(actor_id, None)
        for node in [node for node_id, node in alive.items() if node_id not in self._known_nodes]:
            self._known_nodes.add(node.node_id)
            try:
                run_setup_on_nodes(self.node_setup_stages, [node])
            except (RuntimeError, RayActorError, RayTaskError) as error:  # the run goes on without that node
                logger.warning("node %s joined the cluster, but the run will not use it: %s", node.node_id, error)
                self.nodes_refused.append(node.node_id)
                continue
            logger.info("node %s joined the cluster: the run will use it", node.node_id)
            self.nodes_added.append(node.node_id)
            self.scheduler.on_node_added(NodeCapacity(node.node_id, node.cpus, node.gpus))

    def _secure_sources(self) -> None:
        """Copy source partitions made by a source stage into objects the driver owns, so that
        losing the node that made them loses nothing. Only payload-free tasks (file lists; size 0)
        are copied: a payload never passes through the driver."""
        lineage = self.scheduler.lineage
        if lineage is None or not lineage.unsecured:
            return
        by_object: dict[int, list[Item]] = {}
        for item in lineage.unsecured:
            by_object.setdefault(id(item.ref), []).append(item)
        lineage.unsecured = []
        # an object is fetched only if nothing in it carries a payload
        groups = [group for group in by_object.values() if all(item.meta.nbytes == 0 for item in group)]
        items = [item for group in groups for item in group]
        refs = [group[0].ref for group in groups]
        try:
            values = dict(zip((id(r) for r in refs), ray.get(refs, timeout=SECURE_TIMEOUT_S), strict=True))
        except (ObjectLostError, GetTimeoutError):
            return  # gone or out of reach: recovery says so if they are needed
        for item in items:
            value = values[id(item.ref)]
            item.ref, item.index, item.node_id = ray.put(value if item.index is None else value[item.index]), None, ""

    def _on_call_ready(self, ref: Any) -> None:
        call = self._calls.pop(ref)
        try:
            if call.generator is not None:
                ray.get(ref)  # raises if the actor died
                refs = list(call.generator)
                call.payload, ref = refs[:-1], refs[-1]
            summary = ray.get(ref)
        except _ACTOR_GONE as error:
            self._watch_nodes(now=True)  # a lost node is handled as a whole (its data too)
            if call.actor_id in self.scheduler.actors:
                logger.warning(
                    "actor %s died (%s); replacing it and retrying its batches", call.actor_id, type(error).__name__
                )
                self.handles.pop(call.actor_id, None)
                self.scheduler.on_actor_died(call.actor_id)
            return
        except RayTaskError as error:
            error_type, message = _root_cause(error)
            if error_type in LOST_DATA_ERRORS:
                self._watch_nodes(now=True)
            self.scheduler.on_batch_crashed(call.batch.batch_id, error_type, message, str(error))
            return
        self.scheduler.on_batch_done(call.batch.batch_id, call.payload, summary, actor_id=call.actor_id)

    def _on_actor_ready(self, ref: Any) -> None:
        actor_id = self._starting.pop(ref)
        try:
            ray.get(ref)
        except ActorUnschedulableError as error:
            # pinned to a node that died before the actor was placed: gone with the node; on a node
            # still alive it is a start failure like any other
            self.handles.pop(actor_id, None)
            self._watch_nodes(now=True)
            if actor_id in self.scheduler.actors:
                error_type, message = _root_cause(error)
                self.scheduler.on_actor_start_failed(actor_id, error_type, message, str(error))
            return
        except (RayActorError, RayTaskError) as error:
            self.handles.pop(actor_id, None)
            if actor_id not in self.scheduler.actors:
                return
            if isinstance(error, RayActorError) and not error.actor_init_failed:
                # killed, or its node died, before it was ready: not the stage's fault
                logger.warning("actor %s died while starting (%s); replacing it", actor_id, type(error).__name__)
                self._watch_nodes(now=True)
                self.scheduler.on_actor_died(actor_id)
                return
            error_type, message = _root_cause(error)
            self.scheduler.on_actor_start_failed(actor_id, error_type, message, str(error))
            return
        if actor_id in self.scheduler.actors:
            self.scheduler.on_actor_ready(actor_id)

    # -- the loop ---------------------------------------------------------------------------------
    def run(self, initial: list[Item]) -> None:
        """Drive the scheduler until every stage is finished or the run failed."""
        self.scheduler.add_initial(initial)
        self._drive()

    def fetch_results(self) -> list[Task]:
        """The last stage's outputs. Outputs lost with a node since they were made are made again
        first (the run goes on until they are), so what is returned is complete."""
        scheduler = self.scheduler
        while True:
            self._watch_nodes(now=True)
            if not scheduler.done:
                self._drive()
            if scheduler.fatal is not None:
                return []
            try:
                return fetch_items(scheduler.results)
            except ObjectLostError:
                lost = _lost_refs(scheduler.results)
                if not lost:
                    raise
                logger.warning("%d result object(s) were lost; recomputing their partitions", len(lost))
                reason = "result objects were lost with their node"
                scheduler.recover_lost(lambda item, gone=lost: item.ref in gone, reason)

    def _drive(self) -> None:
        scheduler = self.scheduler
        idle_rounds = 0
        last_event = time.monotonic()
        while not scheduler.done:
            for actor_id in scheduler.actors_to_stop():
                self._stop(actor_id)
            for batch in scheduler.next_dispatches():
                self._submit(batch)
            # after dispatching: a stage whose actors are all busy and has work left gets more
            for request in scheduler.plan_actors():
                self._create(request.actor_id, request.stage_index, request.node_id)
            self._reap_stopped()
            self._watch_nodes()
            waiting = list(self._calls) + list(self._starting)
            if not waiting:
                idle_rounds += 1  # a stop or a preemption may unblock the next round
                if idle_rounds > 3:
                    raise RuntimeError(f"scheduler stalled with nothing in flight: {scheduler.snapshot()}")
                continue
            idle_rounds = 0
            ready, _ = ray.wait(waiting, num_returns=1, timeout=1.0)
            if ready or self._starting:  # time spent starting actors (runtime_env, setup) is not a stall
                last_event = time.monotonic()
            if ready:
                more, _ = ray.wait(waiting, num_returns=len(waiting), timeout=0)
                ready = list({r: None for r in [*ready, *more]})
            elif self.stall_timeout_s is not None and time.monotonic() - last_event > self.stall_timeout_s:
                raise self._stalled()
            for ref in ready:
                if ref in self._calls:
                    self._on_call_ready(ref)
                elif ref in self._starting:
                    self._on_actor_ready(ref)
            self._secure_sources()
            self._flush_skipped()
            if self.progress is not None:
                self.progress.update(scheduler.snapshot())

    def _stalled(self) -> PipelineStalledError:
        """The error of a run in which no call returned for `stall_timeout_s` seconds."""
        scheduler = self.scheduler
        stages = []
        for op, spec in zip(scheduler.operators, scheduler.specs, strict=True):
            if op.finished():
                continue
            actors = len(scheduler.stage_actors(op.index))
            stages.append(
                f"{spec.name} ({spec.cpus:g} CPU, {spec.gpus:g} GPU a worker): {len(op.in_flight)} call(s) in flight, "
                f"{op.pending_work} task(s) queued, {actors} actor(s)"
            )
        nodes = list(scheduler.nodes.values())
        return PipelineStalledError(
            f"RayActorPoolExecutor made no progress for {self.stall_timeout_s:g} s: no call returned. "
            f"Stages: {'; '.join(stages)}. Cluster: {sum(n.cpus for n in nodes):g} CPU(s), "
            f"{sum(n.gpus for n in nodes):g} GPU(s) on {len(nodes)} node(s). A call that never returns (a hung "
            "read, a deadlock) stops the run here; raise stall_timeout_s if a batch just takes longer"
        )

    def _flush_skipped(self) -> None:
        skipped = self.scheduler.skipped
        while self.on_skipped is not None and self._skipped_sent < len(skipped):
            self.on_skipped(skipped[self._skipped_sent])
            self._skipped_sent += 1

    def shutdown(self) -> None:
        """Tear down and kill every actor of the run (also after errors)."""
        self._flush_skipped()
        self.scheduler.release_all()
        for actor_id in list(self.handles):
            self._stop(actor_id)
        deadline = time.monotonic() + self.teardown_timeout_s
        while self._stopping and time.monotonic() < deadline:
            refs = [ref for ref, _, _ in self._stopping]
            try:
                ray.wait(refs, num_returns=len(refs), timeout=max(0.0, deadline - time.monotonic()))
            except GetTimeoutError:
                pass
            self._reap_stopped()
        self._reap_stopped(force=True)
        self._calls.clear()
        self._starting.clear()


def fetch_items(items: list[Item]) -> list[Task]:
    """The tasks behind `items`, fetched once per object."""
    return fetch_tasks([(item.ref, item.index) for item in items])


def _lost_refs(items: list[Item]) -> set[Any]:
    """The object references among `items` whose objects are gone."""
    lost = set()
    for ref in {id(item.ref): item.ref for item in items}.values():
        try:
            ray.get(ref)
        except ObjectLostError:
            lost.add(ref)
    return lost
