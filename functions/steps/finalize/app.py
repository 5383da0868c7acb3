"""FinalizeStepFunction: the pipeline's `finalize` step, triggered by queue `steps-finalize`."""

from retouch.bootstrap.steps import handle_scf_step_event, handle_step_event

handler = handle_step_event  # AWS Lambda (SQS, ReportBatchItemFailures): app.handler
main_handler = handle_scf_step_event  # Tencent SCF (async Invoke per message): app.main_handler
