"""Orders and payments: a plan or a credit pack is ordered, a payment provider confirms the
payment with a signed notification, and the product is applied exactly once. No real gateway
yet: the `fake` provider (local, test and dev stages) signs the way docs/payments.md says."""
