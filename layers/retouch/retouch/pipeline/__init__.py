"""The pipeline engine (DESIGN §5): runs a task through the steps of the pipeline version it
was created with, and ends it exactly once — success charges the reserved credits; failure,
timeout or cancel returns them. Status changes are conditional updates, so a duplicate or
late message never moves a task backwards."""
