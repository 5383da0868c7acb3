"""Working in-memory fakes behind the repository ports (`retouch.core.units`): unit tests run
the business rules against them in milliseconds, with no server. Each fake keeps the rules
its SQL adapter keeps (conditional status changes, uniqueness, ownership); the real-server
integration tests prove the SQL and the races."""

from tests.fakes.units import InMemoryDatabase, InMemoryUnitOfWork

__all__ = ["InMemoryDatabase", "InMemoryUnitOfWork"]
