"""The CRM domain: contacts, companies, leads, deals, invoices, payments, accounting."""

from core.crm.models import (
    AccountingAccount,
    Company,
    Contact,
    Deal,
    DealStage,
    Invoice,
    JournalEntry,
    JournalLine,
    Lead,
    Payment,
)
from core.crm.operations import OPERATIONS, TOOLSETS
from core.crm.sales import seed_pipeline
from core.domain import Domain, Sample
from core.ids import new_id


def _suffix(length: int = 6) -> str:
    return new_id("x")[-length:].lower()


DOMAIN = Domain(
    name="crm",
    operations=OPERATIONS,
    toolsets=TOOLSETS,
    tables=(
        Company,
        Contact,
        Lead,
        DealStage,
        Deal,
        Invoice,
        Payment,
        AccountingAccount,
        JournalEntry,
        JournalLine,
    ),
    related_types={
        "contact": Contact,
        "company": Company,
        "lead": Lead,
        "deal": Deal,
        "invoice": Invoice,
        "payment": Payment,
    },
    event_types={
        "contact.created": "A contact was created.",
        "contact.updated": "A contact changed.",
        "contact.erased": "A contact's personal data was erased.",
        "company.created": "A company was created.",
        "company.updated": "A company changed.",
        "lead.created": "A lead was created.",
        "lead.updated": "A lead changed.",
        "lead.converted": "A lead was converted into a contact, company or deal.",
        "deal_stage.created": "A deal pipeline stage was created.",
        "deal_stage.updated": "A deal pipeline stage was renamed or reordered.",
        "deal.created": "A deal was created.",
        "deal.updated": "A deal changed (stage, amount, owner…).",
        "invoice.created": "An invoice was created.",
        "invoice.paid": "An invoice was paid in full.",
        "payment.recorded": "A payment was recorded against an invoice.",
        "accounting_account.created": "An accounting account was created.",
        "journal_entry.created": "A journal entry was posted.",
    },
    samples={
        "create_contact": Sample(
            lambda: {"name": "Jane Doe", "email": "jane@acme.test", "notes": "VIP"}
        ),
        "update_contact": Sample(lambda: {"notes": "changed"}),
        "create_company": Sample(lambda: {"name": "Acme Corp", "domain": "acme.test"}),
        "update_company": Sample(lambda: {"notes": "changed"}),
        "create_lead": Sample(lambda: {"name": "Priya Shah", "company_name": "Northstar Studio"}),
        "update_lead": Sample(lambda: {"notes": "changed"}),
        "create_deal_stage": Sample(
            lambda: {"key": "discovery_" + _suffix(), "name": "Discovery", "position": 10}
        ),
        "create_deal": Sample(lambda: {"name": "Pilot", "amount_cents": 50_000, "currency": "USD"}),
        "update_deal": Sample(lambda: {"amount_cents": 1}),
        "create_invoice": Sample(
            lambda: {
                "invoice_number": "INV-" + _suffix(8),
                "line_items": [{"kind": "service", "name": "Setup", "unit_amount_cents": 10_000}],
            }
        ),
        "record_payment": Sample(lambda: {"amount_cents": 100}, needs={"invoice_id": "invoice"}),
        "create_accounting_account": Sample(
            lambda: {"code": _suffix(), "name": "Services revenue", "type": "revenue"}
        ),
        "update_deal_stage": Sample(lambda: {"name": "Renamed"}),
        "create_journal_entry": Sample(
            lambda: {
                "memo": "Sale",
                "lines": [{"debit_cents": 700}, {"credit_cents": 700}],
            },
            needs={
                "lines.0.account_id": "accounting_account",
                "lines.1.account_id": "accounting_account",
            },
        ),
    },
    workspace_seeders=(seed_pipeline,),
    records={
        "contact": "create_contact",
        "company": "create_company",
        "lead": "create_lead",
        "deal": "create_deal",
        "deal_stage": "create_deal_stage",
        "invoice": "create_invoice",
        "accounting_account": "create_accounting_account",
    },
)
