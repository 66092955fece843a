"""CRM: contacts, companies, leads, deals, invoices, payments, accounting."""
