"""The composition root: builds the clients and the pipeline engine from settings and wires
them to the entry points that need a built engine (the step functions' handlers, the vendor
callbacks route). Nothing below imports it; `functions/` and the local runtime do."""
