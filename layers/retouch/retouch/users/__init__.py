"""Accounts: the signed-in user's profile and the admin user endpoints."""
