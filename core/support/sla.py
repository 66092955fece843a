"""The first-response SLA.

A ticket in a queue with ``first_response_target_minutes`` is due a first reply by
``first_response_due_at`` = ``created_at`` + the target (moving it to another queue
before the first reply recomputes it from ``created_at``). The first outbound message
stamps ``first_responded_at``; if that is after the deadline, the ticket is breached
then and there. Otherwise a job (``support_sla_checks``, one per ticket, due at the
deadline: the database is the queue, ``core.jobs``) looks at the ticket when the
deadline passes and, if no reply came, stamps ``sla_breached_at`` (= the deadline) and
emits ``ticket.sla_breached``. The ``breached`` list filter also counts tickets whose
deadline passed unanswered before the worker got to them, so it never lags the clock.
Resolving or closing a ticket does not stop the clock.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

from core.db import WorkspaceId
from core.events.service import emit
from core.ids import new_id
from core.jobs import ClaimedJob, finish
from core.support import clock, repository
from core.support.models import SupportSlaCheck, SupportTicket
from core.support.schemas import TicketPublic

if TYPE_CHECKING:
    from core.runtime import Runtime


def set_deadline(ticket: SupportTicket, target_minutes: int | None) -> None:
    """``first_response_due_at`` from the queue's target (None: no SLA)."""
    ticket.first_response_due_at = (
        None if target_minutes is None else ticket.created_at + timedelta(minutes=target_minutes)
    )


def breached_by_reply(ticket: SupportTicket) -> bool:
    """After the first reply was stamped: whether it came late (then marks the ticket)."""
    due = ticket.first_response_due_at
    if due is None or ticket.sla_breached_at is not None or ticket.first_responded_at is None:
        return False
    if ticket.first_responded_at <= due:
        return False
    ticket.sla_breached_at = due
    return True


async def schedule(session: AsyncSession, ws: WorkspaceId, ticket: SupportTicket) -> None:
    """Make the ticket's check due at its deadline, or retire it when there is nothing
    left to check (no deadline, replied, already breached)."""
    check = await repository.sla_check(session, ws, ticket.id)
    wanted = (
        ticket.first_response_due_at is not None
        and ticket.first_responded_at is None
        and ticket.sla_breached_at is None
    )
    if check is None:
        if not wanted:
            return
        assert ticket.first_response_due_at is not None
        session.add(
            SupportSlaCheck(
                id=new_id("sla"),
                workspace_id=ws,
                ticket_id=ticket.id,
                status="pending",
                run_after=ticket.first_response_due_at,
                created_at=clock.now(),
            )
        )
        await session.flush()
        return
    if wanted:
        assert ticket.first_response_due_at is not None
        check.status = "pending"
        check.run_after = ticket.first_response_due_at
    else:
        check.status = "done"
    await session.flush()


async def check_breach(runtime: Runtime, job: ClaimedJob) -> None:
    """The worker's job: the ticket's deadline has come (by the real clock that claimed
    it). Breached if still unanswered by ``clock.now()``; not yet due (moved to a
    slower queue meanwhile): back to the queue until the new deadline."""
    async with runtime.db.session(job.workspace_id) as session:
        check = await session.get(SupportSlaCheck, (job.workspace_id, job.id))
        if check is None or check.locked_by != job.worker_id:
            return  # another worker took it over
        ticket = await repository.require(
            session, SupportTicket, job.workspace_id, check.ticket_id, "ticket", for_update=True
        )
        due = ticket.first_response_due_at
        settled = due is None or ticket.first_responded_at is not None
        if settled or ticket.sla_breached_at is not None:
            await finish(session, job, status="done")
            return
        assert due is not None
        if clock.now() < due:
            await finish(session, job, run_after=due)
            return
        ticket.sla_breached_at = due
        await session.flush()
        await emit(session, job.workspace_id, "ticket.sla_breached", _ticket_json(ticket))
        await finish(session, job, status="done")


def _ticket_json(ticket: SupportTicket) -> dict[str, object]:
    return TicketPublic.model_validate(ticket).model_dump(mode="json", exclude_none=True)
