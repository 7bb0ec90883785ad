"""One live state from receipt to result, for uploads, received DICOM studies and cases.

Until a case exists the upload session or the received study carries the state (received, checking,
de-identifying, resampling, or failed with the reason); then the case's latest inference run does
(queued, segmenting, done, failed). Blinded users get the import state only, never the model's.
"""

from __future__ import annotations

from django.urls import reverse

from cases.models import Case, ReceivedStudy, UploadSession
from inference.models import InferenceRun
from inference.selectors import inference_run_latest

RUN_STATES = {
    InferenceRun.Status.QUEUED: "queued",
    InferenceRun.Status.RUNNING: "segmenting",
    InferenceRun.Status.DONE: "done",
    InferenceRun.Status.FAILED: "failed",
}


def _state(state: str, message: str = "", *, progress: float | None = None, case: Case | None = None) -> dict:
    return {"state": state, "message": message, "progress": progress,
            "case": case.code if case else None,
            "case_url": reverse("case-page", kwargs={"code": case.code}) if case else None}


def case_state(case: Case, *, can_see_model: bool = True) -> dict:
    run = inference_run_latest(case=case) if can_see_model else None
    if run is None:
        return _state("imported", "imported; no model result to show" if can_see_model else "imported", case=case)
    state = RUN_STATES.get(run.status, run.status)
    message = run.message or {"queued": "waiting for a worker", "segmenting": "segmenting the tumour",
                              "done": "margin result stored"}.get(state, "")
    return _state(state, message, progress=run.progress if state == "segmenting" else None, case=case)


def upload_state(session: UploadSession) -> dict:
    if session.state == UploadSession.State.DONE and session.case is not None:
        return case_state(session.case)
    if session.state == UploadSession.State.UPLOADING:
        progress = 100.0 * session.received_bytes / session.total_bytes if session.total_bytes else 0.0
        return _state("uploading", f"{session.received_bytes} of {session.total_bytes} bytes", progress=progress)
    return _state(session.state, session.message)


RECEIPT_STATES = {
    ReceivedStudy.Status.RECEIVING: "receiving",
    ReceivedStudy.Status.INCOMPLETE: "incomplete",
    ReceivedStudy.Status.QUEUED: "received",
    ReceivedStudy.Status.DUPLICATE: "duplicate",
    ReceivedStudy.Status.FAILED: "failed",
}


def received_state(received: ReceivedStudy) -> dict:
    if received.status in (ReceivedStudy.Status.DONE, ReceivedStudy.Status.DUPLICATE) and received.case is not None:
        if received.status == ReceivedStudy.Status.DONE:
            return case_state(received.case)
        return _state("duplicate", received.message, case=received.case)
    if received.status == ReceivedStudy.Status.INGESTING:
        return _state(received.stage or "checking", received.message)
    return _state(RECEIPT_STATES.get(received.status, received.status), received.message)
