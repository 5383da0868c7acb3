"""The audit log: every admin write, recorded in the transaction of the write itself."""
