"""Actor lifecycle events: ready, failed to start, died (retry its batches), stopped (a part of
the scheduler)."""

from __future__ import annotations

from raycurator.backends.failures import TaskFailure
from raycurator.backends.ray_actor_pool.scheduling.capacity import ActorState
from raycurator.backends.ray_actor_pool.scheduling.items import Batch
from raycurator.backends.ray_actor_pool.scheduling.state import SchedulerState


class ActorLifecycle(SchedulerState):
    """Mixin of `StreamingScheduler`: what happens to an actor's state and batches over its life."""

    def on_actor_ready(self, actor_id: str) -> None:
        """An actor finished its set-up and can take batches."""
        actor = self.actors[actor_id]
        actor.ready = True
        actor.ready_at = self.clock()

    def on_actor_start_failed(self, actor_id: str, error_type: str, message: str, traceback_text: str) -> None:
        """An actor could not start (its stage's `setup` raised): the run fails."""
        actor = self.actors.pop(actor_id)
        self.nodes[actor.node_id].gpus_held -= self.specs[actor.stage_index].gpus
        self.fatal = TaskFailure(
            stage=self.specs[actor.stage_index].name,
            task_id="(actor set-up)",
            error_type=error_type,
            message=f"worker set-up failed: {message}",
            traceback=traceback_text,
        )

    def on_actor_died(self, actor_id: str) -> list[Batch]:
        """An actor is gone: retry or fail its batches; returns the batches queued again."""
        actor = self.actors.pop(actor_id, None)
        if actor is None:
            return []
        self._release_actor(actor)
        self._deaths[actor.stage_index] += 1
        requeued = []
        for batch_id in actor.in_flight:
            batch = self.batches.pop(batch_id)
            op = self.operators[batch.stage_index]
            op.in_flight.pop(batch_id, None)
            if batch.void:  # its inputs were discarded already: nothing to retry
                continue
            batch.attempts += 1
            if batch.attempts <= op.spec.max_task_retries:
                for counters in self.members[batch.stage_index]:
                    counters.retries += 1
                op.retry(batch)
                requeued.append(batch)
            else:
                message = (
                    f"the worker running this batch died {batch.attempts} time(s); "
                    f"max_task_retries={op.spec.max_task_retries} reached"
                )
                self._fail_batch(batch, "ActorDiedError", message, "")
        actor.in_flight.clear()
        self._propagate_done()
        return requeued

    def _release_actor(self, actor: ActorState) -> None:
        node = self.nodes[actor.node_id]
        if actor.in_flight:
            node.cpus_in_use -= self.specs[actor.stage_index].cpus
        node.gpus_held -= self.specs[actor.stage_index].gpus
        if actor.ready:
            members = self.members[actor.stage_index]
            idle = max(0.0, self.clock() - actor.ready_at - actor.busy_s)
            for counters in members:  # fused stages share their actors' idle time
                counters.idle_s += idle
            if len(members) == 1:  # fused members account busy time per call
                members[0].busy_s += actor.busy_s

    def actors_to_stop(self) -> list[str]:
        """Actors whose stage is finished (tear them down and kill them)."""
        stopping = []
        for actor in list(self.actors.values()):
            op = self.operators[actor.stage_index]
            retiring = actor.actor_id in self._retiring and actor.idle
            # stage by stage, only the running stage holds actors (a recomputation can make a later stage wait)
            waiting = self.config.mode == "stage_by_stage" and not self._active(op)
            if retiring or ((op.finished() or waiting) and not actor.in_flight):
                self._retiring.discard(actor.actor_id)
                self._release_actor(actor)
                del self.actors[actor.actor_id]
                stopping.append(actor.actor_id)
        return stopping

    def release_all(self) -> list[str]:
        """Every remaining actor, released for accounting (end of run, or after a failure)."""
        remaining = list(self.actors.values())
        self.actors.clear()
        for actor in remaining:
            self._release_actor(actor)
        return [a.actor_id for a in remaining]
