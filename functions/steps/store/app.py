"""StoreStepFunction: the `store` step of the pipeline, triggered by queue `steps-store`."""

from retouch.bootstrap.steps import handle_scf_step_event, handle_step_event

handler = handle_step_event  # AWS Lambda (SQS, ReportBatchItemFailures): app.handler
main_handler = handle_scf_step_event  # Tencent SCF (invoked asynchronously per message, docs/queue-tencent.md): app.main_handler
