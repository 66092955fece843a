"""The worker loop: N slots claim due jobs from every queue, keep their leases alive while
the handler runs, and on shutdown finish or release what they hold.

A slot claims one row of a plain queue, or up to ``batch_size`` rows of a queue with a
``batch_handler`` (one claim statement, one heartbeat for the whole batch). Besides the
slots, a worker does housekeeping every ``housekeeping_seconds``: it deletes expired
idempotency records."""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import anyio
from anyio.abc import TaskStatus

from core.jobs.queue import (
    ClaimedJob,
    Queue,
    claim,
    extend_lease,
    extend_leases,
    release,
    release_many,
)
from core.runtime import Runtime

log = logging.getLogger("patchbay.worker")


def new_worker_id() -> str:
    """``host:pid:random`` — unique per worker instance."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Worker:
    """Runs jobs from ``queues`` with ``concurrency`` slots until stopped."""

    def __init__(
        self,
        runtime: Runtime,
        queues: Sequence[Queue] | None = None,
        *,
        concurrency: int = 1,
        worker_id: str | None = None,
        grace_seconds: float = 10.0,
        housekeeping_seconds: float = 300.0,
    ) -> None:
        self.runtime = runtime
        self.queues = list(queues if queues is not None else runtime.platform.queues)
        self.concurrency = max(1, concurrency)
        self.worker_id = worker_id or new_worker_id()
        self.grace_seconds = grace_seconds
        self.housekeeping_seconds = housekeeping_seconds
        self.lease_seconds = runtime.settings.job_lease_seconds
        self.poll_seconds = runtime.settings.worker_poll_seconds
        self._stopping = anyio.Event()
        self._wake = anyio.Event()
        self.stopped = anyio.Event()
        self.processed = 0

    def stop(self) -> None:
        """Stop claiming; jobs in hand finish (or are released after the grace period)."""
        self._stopping.set()
        self._wake.set()

    def wake(self) -> None:
        """Look for work now instead of at the next poll."""
        self._wake.set()

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Run until ``stop()`` or cancellation; in-flight jobs are released on cancellation."""
        log.info(
            "worker %s started: %d slot(s), queues %s",
            self.worker_id,
            self.concurrency,
            [q.name for q in self.queues],
        )
        task_status.started()
        try:
            if not self.queues:
                await self._stopping.wait()
                return
            async with anyio.create_task_group() as tg:
                for slot in range(self.concurrency):
                    tg.start_soon(self._slot, slot)
                tg.start_soon(self._housekeeping)
                await self._stopping.wait()
            log.info("worker %s stopped after %d job(s)", self.worker_id, self.processed)
        finally:
            self.stopped.set()

    async def _housekeeping(self) -> None:
        """Run the chores (the kernel's purge of expired idempotency records and the
        domains' ``Domain.chores``) now and every ``housekeeping_seconds``, until
        ``stop()``; a chore under way finishes first (each is one short transaction)."""
        from core.idempotency import purge_expired

        async def purge_idempotency(runtime: Runtime) -> int:
            return await purge_expired(runtime.db)

        chores = [purge_idempotency, *self.runtime.platform.chores]
        while not self._stopping.is_set():
            for chore in chores:
                try:
                    touched = await chore(self.runtime)
                    if touched:
                        log.info("%s: %d row(s)", getattr(chore, "__name__", "chore"), touched)
                except Exception:
                    log.exception("housekeeping chore failed")
            with anyio.move_on_after(self.housekeeping_seconds):
                await self._stopping.wait()

    async def _slot(self, slot: int) -> None:
        turn = slot
        while not self._stopping.is_set():
            jobs: list[ClaimedJob] = []
            for i in range(len(self.queues)):
                queue = self.queues[(turn + i) % len(self.queues)]
                batched = queue.batch_handler is not None
                try:
                    jobs = await claim(
                        self.runtime.db,
                        queue,
                        worker_id=self.worker_id,
                        lease_seconds=self.lease_seconds,
                        limit=max(1, queue.batch_size) if batched else 1,
                    )
                except Exception:
                    log.exception("claim failed on queue %s", queue.name)
                    jobs = []
                if jobs:
                    break
            turn += 1
            if not jobs:
                # Idle slots share one event; it is replaced only after it fired, so a
                # wake() or stop() reaches every waiting slot at once.
                if self._wake.is_set():
                    self._wake = anyio.Event()
                wake = self._wake
                with anyio.move_on_after(self.poll_seconds):
                    await wake.wait()
                continue
            if jobs[0].queue.batch_handler is not None:
                await self._process_batch(jobs)
            else:
                await self._process(jobs[0])

    async def _process(self, job: ClaimedJob) -> None:
        lost = anyio.Event()

        async def heartbeat() -> None:
            while True:
                await anyio.sleep(self.lease_seconds / 3)
                if not await extend_lease(self.runtime.db, job, self.lease_seconds):
                    log.warning("lease lost on %s %s", job.queue.name, job.id)
                    lost.set()
                    return

        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(heartbeat)
                try:
                    with anyio.CancelScope() as handler_scope:
                        tg.start_soon(self._cancel_when, lost, handler_scope)
                        assert job.queue.handler is not None
                        await job.queue.handler(self.runtime, job)
                finally:
                    tg.cancel_scope.cancel()
            self.processed += 1
        except anyio.get_cancelled_exc_class():
            with anyio.CancelScope(shield=True):
                await release(self.runtime.db, job)
            raise
        except Exception:
            log.exception("job %s %s failed; releasing it for a retry", job.queue.name, job.id)
            with anyio.CancelScope(shield=True):
                await release(self.runtime.db, job)

    async def _process_batch(self, jobs: list[ClaimedJob]) -> None:
        """Run a claimed batch; one heartbeat extends all its leases in one statement.

        The handler is cancelled only when none of the rows is held any more (all recorded,
        or all taken over after a lost lease); a row lost on its own is skipped by the
        handler's own guarded statements.
        """
        queue = jobs[0].queue
        handler = queue.batch_handler
        assert handler is not None
        lost = anyio.Event()

        async def heartbeat() -> None:
            while True:
                await anyio.sleep(self.lease_seconds / 3)
                held = await extend_leases(self.runtime.db, jobs, self.lease_seconds)
                if not held:
                    lost.set()
                    return

        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(heartbeat)
                try:
                    with anyio.CancelScope() as handler_scope:
                        tg.start_soon(self._cancel_when, lost, handler_scope)
                        await handler(self.runtime, jobs)
                finally:
                    tg.cancel_scope.cancel()
            self.processed += len(jobs)
        except anyio.get_cancelled_exc_class():
            with anyio.CancelScope(shield=True):
                await release_many(self.runtime.db, jobs)
            raise
        except Exception:
            log.exception(
                "batch of %d job(s) on %s failed; releasing them for a retry",
                len(jobs),
                queue.name,
            )
            with anyio.CancelScope(shield=True):
                await release_many(self.runtime.db, jobs)

    @staticmethod
    async def _cancel_when(event: anyio.Event, scope: anyio.CancelScope) -> None:
        await event.wait()
        scope.cancel()


async def run_worker_until_stopped(
    runtime: Runtime, *, concurrency: int, grace_seconds: float = 10.0
) -> Worker:
    """Run a worker until SIGINT/SIGTERM, then stop claiming and finish or release."""
    import signal

    worker = Worker(runtime, concurrency=concurrency, grace_seconds=grace_seconds)
    async with anyio.create_task_group() as tg:

        async def on_signal() -> None:
            with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                async for _ in signals:
                    log.info("stopping worker %s (grace %.0fs)", worker.worker_id, grace_seconds)
                    worker.stop()
                    with anyio.move_on_after(grace_seconds):
                        await worker_done.wait()
                    tg.cancel_scope.cancel()
                    return

        worker_done = anyio.Event()

        async def run() -> None:
            try:
                await worker.run()
            finally:
                worker_done.set()
                tg.cancel_scope.cancel()

        tg.start_soon(on_signal)
        tg.start_soon(run)
    return worker


@asynccontextmanager
async def background_worker(
    runtime: Runtime, *, concurrency: int = 2, grace_seconds: float = 5.0
) -> AsyncIterator[Worker]:
    """Run a job worker inside this process (``up``, ``mcp`` on SQLite) for the block's life.

    On exit the worker stops claiming and gets ``grace_seconds`` to finish the jobs in
    hand; a job cut short keeps its lease and is resumed by a worker once it lapses.
    """
    worker = Worker(runtime, concurrency=concurrency, grace_seconds=grace_seconds)
    async with anyio.create_task_group() as tg:
        await tg.start(worker.run)
        try:
            yield worker
        finally:
            worker.stop()
            with anyio.move_on_after(grace_seconds, shield=True):
                await worker.stopped.wait()
            tg.cancel_scope.cancel()
