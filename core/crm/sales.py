"""Rules for deal stages, deals, invoices and payments. Never commits.

Deal stage validation: a ``stage`` key that does not exist in the workspace is a
semantic error of the body, so it answers 422 ``deal_stage_not_found`` (path ids that do
not exist answer 404).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core.crm import repository as repo
from core.crm.models import Company, Contact, Deal, DealStage, Invoice, Payment
from core.crm.schemas import (
    CreateDealIn,
    CreateDealStageIn,
    CreateInvoiceIn,
    DealPublic,
    DealStagePublic,
    InvoicePublic,
    PaymentPublic,
    RecordPaymentIn,
    UpdateDealIn,
    public_json,
)
from core.db import WorkspaceId, flush_unique, utcnow
from core.errors import Conflict, NotFound, Unprocessable
from core.events.service import emit
from core.ids import new_id

# ---------------------------------------------------------------- stages


DEFAULT_PIPELINE = (
    ("lead", "Lead", 10),
    ("qualified", "Qualified", 20),
    ("proposal", "Proposal", 30),
    ("negotiation", "Negotiation", 40),
    ("won", "Won", 50),
    ("lost", "Lost", 60),
)
"""The deal stages a new workspace starts with (key, name, position); editable after."""


async def seed_pipeline(session: AsyncSession, ws: WorkspaceId) -> None:
    """Workspace seeder: the default deal pipeline of a new workspace."""
    now = utcnow()
    session.add_all(
        DealStage(id=new_id("stage"), workspace_id=ws, key=key, name=name, position=position,
                  created_at=now)
        for key, name, position in DEFAULT_PIPELINE
    )  # fmt: skip
    await session.flush()


async def create_stage(
    session: AsyncSession, ws: WorkspaceId, data: CreateDealStageIn
) -> DealStage:
    taken = Conflict(
        f"A deal stage with key '{data.key}' already exists.", code="deal_stage_exists"
    )
    if await repo.stage_by_key(session, ws, data.key) is not None:
        raise taken
    stage = DealStage(id=new_id("stage"), workspace_id=ws, created_at=utcnow(), **data.model_dump())
    session.add(stage)
    await flush_unique(session, taken)
    await emit(session, ws, "deal_stage.created", public_json(DealStagePublic, stage))
    return stage


async def update_stage(
    session: AsyncSession, ws: WorkspaceId, stage_id: str, name: str | None, position: int | None
) -> DealStage:
    """Rename or reorder a stage (its key stays: deals refer to it)."""
    stage = await repo.get_stage(session, ws, stage_id)
    if stage is None:
        raise NotFound("stage", stage_id)
    if name is not None:
        stage.name = name
    if position is not None:
        stage.position = position
    await session.flush()
    await emit(session, ws, "deal_stage.updated", public_json(DealStagePublic, stage))
    return stage


async def _check_stage(session: AsyncSession, ws: WorkspaceId, key: str) -> None:
    if await repo.stage_by_key(session, ws, key) is None:
        raise Unprocessable(
            f"Deal stage '{key}' does not exist in this workspace; create it with "
            "create_deal_stage or use list_deal_stages.",
            code="deal_stage_not_found",
        )


async def _check_links(session: AsyncSession, ws: WorkspaceId, values: dict[str, Any]) -> None:
    if values.get("company_id") is not None:
        await repo.require(session, Company, ws, values["company_id"], "company")
    if values.get("contact_id") is not None:
        await repo.require(session, Contact, ws, values["contact_id"], "contact")
    if values.get("deal_id") is not None:
        await repo.require(session, Deal, ws, values["deal_id"], "deal")


# ---------------------------------------------------------------- deals


async def create_deal(
    session: AsyncSession, ws: WorkspaceId, data: CreateDealIn, *, lead_id: str | None = None
) -> Deal:
    values = data.model_dump()
    await _check_links(session, ws, values)
    if values["stage"] is not None:
        await _check_stage(session, ws, values["stage"])
    else:
        first = await repo.first_stage(session, ws)
        values["stage"] = first.key if first else None
    now = utcnow()
    deal = Deal(
        id=new_id("deal"),
        workspace_id=ws,
        lead_id=lead_id,
        created_at=now,
        updated_at=now,
        **values,
    )
    if deal.status != "open":
        deal.closed_at = now
    session.add(deal)
    await session.flush()
    await emit(session, ws, "deal.created", public_json(DealPublic, deal))
    return deal


async def update_deal(session: AsyncSession, ws: WorkspaceId, data: UpdateDealIn) -> Deal:
    deal = await repo.require(session, Deal, ws, data.deal_id, "deal")
    changes = {k: getattr(data, k) for k in data.model_fields_set if k != "deal_id"}
    for key in ("name", "status", "amount_cents", "currency"):
        if key in changes and changes[key] is None:
            changes.pop(key)
    await _check_links(session, ws, changes)
    if changes.get("stage") is not None:
        await _check_stage(session, ws, changes["stage"])
    now = utcnow()
    if "status" in changes and changes["status"] != deal.status:
        deal.closed_at = None if changes["status"] == "open" else now
    for key, value in changes.items():
        setattr(deal, key, value)
    deal.updated_at = now
    await session.flush()
    await emit(session, ws, "deal.updated", public_json(DealPublic, deal))
    return deal


# ---------------------------------------------------------------- invoices


async def create_invoice(session: AsyncSession, ws: WorkspaceId, data: CreateInvoiceIn) -> Invoice:
    values = data.model_dump()
    await _check_links(session, ws, values)
    taken = Conflict(
        f"Invoice number '{data.invoice_number}' is already used in this workspace.",
        code="invoice_number_taken",
    )
    if await repo.invoice_number_taken(session, ws, data.invoice_number):
        raise taken
    items = []
    for item in data.line_items:
        line = item.model_dump(exclude_none=True)
        line["amount_cents"] = item.quantity * item.unit_amount_cents
        items.append(line)
    subtotal = sum(i["amount_cents"] for i in items)
    total = subtotal + data.tax_cents
    values.update(line_items=items, subtotal_cents=subtotal, total_cents=total, balance_cents=total)
    now = utcnow()
    invoice = Invoice(id=new_id("inv"), workspace_id=ws, created_at=now, updated_at=now, **values)
    session.add(invoice)
    await flush_unique(session, taken)
    await emit(session, ws, "invoice.created", public_json(InvoicePublic, invoice))
    return invoice


# ---------------------------------------------------------------- payments


async def record_payment(
    session: AsyncSession, ws: WorkspaceId, data: RecordPaymentIn
) -> dict[str, Any]:
    """Record a payment; the invoice's paid total, balance and status follow atomically.

    422 ``payment_exceeds_balance`` when the amount is more than the open balance,
    409 ``invoice_void`` for a void invoice, 422 ``currency_mismatch``."""
    invoice = await repo.require(session, Invoice, ws, data.invoice_id, "invoice")
    if invoice.status == "void":
        raise Conflict("The invoice is void and cannot take payments.", code="invoice_void")
    if data.currency is not None and data.currency != invoice.currency:
        raise Unprocessable(
            f"The invoice is in {invoice.currency}, the payment in {data.currency}.",
            code="currency_mismatch",
        )
    now = utcnow()
    if not await repo.apply_payment(session, ws, invoice, data.amount_cents, now):
        if invoice.status == "void":
            raise Conflict("The invoice is void and cannot take payments.", code="invoice_void")
        raise Unprocessable(
            f"The payment of {data.amount_cents} cents exceeds the open balance of "
            f"{invoice.balance_cents} cents.",
            code="payment_exceeds_balance",
            details={"balance_cents": invoice.balance_cents},
        )
    paid_at: datetime = data.paid_at or now
    payment = Payment(
        id=new_id("pay"),
        workspace_id=ws,
        invoice_id=invoice.id,
        amount_cents=data.amount_cents,
        currency=invoice.currency,
        method=data.method,
        reference=data.reference,
        paid_at=paid_at,
        created_at=now,
    )
    session.add(payment)
    await session.flush()
    out = payment_out(payment, invoice)
    await emit(session, ws, "payment.recorded", public_json(PaymentPublic, out))
    if invoice.status == "paid":
        await emit(session, ws, "invoice.paid", public_json(InvoicePublic, invoice))
    return out


def payment_out(payment: Payment, invoice: Invoice) -> dict[str, Any]:
    """A payment as record_payment answers it: with its invoice's new status and balance."""
    out = PaymentPublic.model_validate(payment).model_dump()
    out["invoice_status"] = invoice.status
    out["invoice_balance_cents"] = invoice.balance_cents
    return out
