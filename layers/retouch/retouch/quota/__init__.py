"""Membership plans now; quota accounts, reservations and the ledger as they arrive."""
