"""Cross-cutting building blocks: settings, clients, errors, logging, metrics, ids."""
