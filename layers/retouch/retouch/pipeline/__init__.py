"""The pipeline engine (DESIGN §5): runs a task through the steps of the pipeline version it
was created with (`engine.STEP_FUNCTIONS`, one function per step over `context.StepContext`).
A task starts and ends through the tasks domain (`retouch.tasks.lifecycle`): exactly once —
success charges the reserved credits; failure, timeout or cancel returns them. Status changes
are conditional updates, so a duplicate or late message never moves a task backwards."""
