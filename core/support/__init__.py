"""Support desk: queues, tickets, their customer-visible messages and internal comments."""
