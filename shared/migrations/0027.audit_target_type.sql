-- depends: 0022.plans_orders
-- The admin audit list filtered by target type alone (`GET /v1/admin/audit?target_type=…`),
-- newest first: ix_audit_logs_target leads with (target_type, target_id), so without a
-- target id its rows came out of target-id order and every row of that type was sorted
-- (the plans test, tests/integration/plans: a filesort on a user-facing path). This index
-- reads them newest first and stops after a page.
ALTER TABLE audit_logs
    ADD KEY ix_audit_logs_target_type (target_type, created_at, id);
