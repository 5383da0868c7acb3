-- depends: 0008.pipeline
-- A vendor's non-secret settings as the operator edits them (which workflow or action serves
-- which feature, node bindings, region, result hosts). Checked against the adapter's options
-- model when saved; secrets never live here (`credential_ref` names where they are).
ALTER TABLE provider_configs ADD COLUMN IF NOT EXISTS options JSON NULL AFTER credential_ref;
