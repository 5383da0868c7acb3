"""Image providers: the vendors and offline engines a task's `generate` step calls."""
