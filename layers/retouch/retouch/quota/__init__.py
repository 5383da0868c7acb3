"""Membership plans, quota accounts, credit reservations and the ledger."""
