"""Account deletion: the owner's `DELETE /v1/me` and the job that erases the account's data
(docs/accounts.md, "Deleting an account")."""

from retouch.erasure.job import ErasureFailed, erase_deleted_accounts
from retouch.erasure.service import delete_account

__all__ = ["ErasureFailed", "delete_account", "erase_deleted_accounts"]
