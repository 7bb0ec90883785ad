"""SEG + SR to a real PACS (Debian's Orthanc) by C-STORE: after a run, on request, retries, bad input."""

from __future__ import annotations

import pydicom
import pytest

from audit.models import AuditEvent
from benchmarks.dicom_pacs import free_port
from inference.models import DicomNode, ResultDelivery
from inference.pacs.delivery import DELIVER_TASK, backoff_seconds

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


def _original(one_case_dir) -> pydicom.Dataset:
    return pydicom.dcmread(next((one_case_dir / "ct").iterdir()), stop_before_pixels=True)


def _add_node(client, *, port: int, ae_title: str = "ORTHANCTEST", **extra) -> dict:
    response = client.post("/api/dicom-nodes/", {"name": f"pacs-{port}", "ae_title": ae_title, "host": "127.0.0.1",
                                                 "port": port, **extra}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def _arrived(orthanc) -> dict[str, dict]:
    """Modality -> simplified tags of every instance stored in Orthanc."""
    return {tags["Modality"]: tags for tags in
            (orthanc.get(f"/instances/{i}/simplified-tags") for i in orthanc.get("/instances"))}


def test_after_a_run_seg_and_sr_land_in_the_original_study(
    orthanc_factory, client_for, imported_case, tiny_model, sent_tasks, django_capture_on_commit_callbacks,
    one_case_dir,
):
    from inference.services import inference_run_request
    from inference.tasks import run_inference

    orthanc = orthanc_factory()
    _add_node(client_for("study_admin"), port=orthanc.dicom_port)
    run = inference_run_request(case=imported_case, model_version=tiny_model)
    with django_capture_on_commit_callbacks(execute=True):
        assert run_inference.apply(args=[run.pk]).get() == "done"

    delivery = ResultDelivery.objects.get(run=run)
    assert (delivery.status, delivery.attempts, delivery.reidentified) == ("sent", 1, True), delivery.last_error
    assert [(name, opts["queue"]) for name, _, opts in sent_tasks if name == DELIVER_TASK] == [(DELIVER_TASK, "default")]
    original = _original(one_case_dir)
    arrived = _arrived(orthanc)
    assert set(arrived) == {"SEG", "SR"}
    for tags in arrived.values():
        assert tags["StudyInstanceUID"] == original.StudyInstanceUID
        assert tags["PatientID"] == original.PatientID != imported_case.code
    studies = orthanc.get("/studies")
    assert len(studies) == 1
    study = orthanc.get(f"/studies/{studies[0]}")
    assert study["MainDicomTags"]["StudyInstanceUID"] == original.StudyInstanceUID
    assert study["PatientMainDicomTags"]["PatientID"] == original.PatientID
    assert AuditEvent.objects.filter(action="reidentification.use", case_code=imported_case.code).exists()
    assert AuditEvent.objects.filter(action="pacs.send", case_code=imported_case.code).count() == 1

    # Sending again replaces the same two instances (fixed UIDs), it adds none.
    response = client_for("study_admin").post(f"/api/cases/{imported_case.code}/results/send/",
                                              {"node_id": delivery.node_id}, format="json")
    assert response.status_code == 202
    with django_capture_on_commit_callbacks(execute=True):
        pass
    assert len(orthanc.get("/instances")) == 2


def test_pacs_down_fails_after_retries_then_resend_delivers(
    orthanc_factory, client_for, finished_case, sent_tasks, django_capture_on_commit_callbacks, one_case_dir,
):
    port = free_port()  # nothing listens here yet
    admin = client_for("study_admin")
    node = _add_node(admin, port=port, send_after_run=False)
    with django_capture_on_commit_callbacks(execute=True):
        response = admin.post(f"/api/cases/{finished_case.code}/results/send/", {"node_id": node["id"]}, format="json")
    assert response.status_code == 202
    delivery = ResultDelivery.objects.get(node_id=node["id"])
    assert delivery.status == "failed" and delivery.attempts == 3
    assert "gave up after 3 attempts" in delivery.last_error and f"127.0.0.1:{port}" in delivery.last_error
    retries = [opts["countdown"] for name, _, opts in sent_tasks if name == DELIVER_TASK and opts.get("countdown")]
    assert retries == [backoff_seconds(1), backoff_seconds(2)] and retries[1] == 2 * retries[0]
    listed = admin.get(f"/api/cases/{finished_case.code}/deliveries/").json()["results"]
    assert listed[0]["status"] == "failed" and "gave up" in listed[0]["last_error"]
    page = admin.get(f"/cases/{finished_case.code}/").content.decode()
    assert 'data-testid="pacs-panel"' in page and "gave up after 3 attempts" in page

    orthanc = orthanc_factory(dicom_port=port)  # the PACS is back: nothing was lost, a resend delivers
    with django_capture_on_commit_callbacks(execute=True):
        response = admin.post(f"/api/cases/{finished_case.code}/results/send/", {"node_id": node["id"]}, format="json")
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("sent", 1, "")
    arrived = _arrived(orthanc)
    assert set(arrived) == {"SEG", "SR"}
    assert arrived["SR"]["StudyInstanceUID"] == _original(one_case_dir).StudyInstanceUID


def test_research_mode_sends_pseudonymous_uids(
    orthanc_factory, client_for, finished_case, sent_tasks, django_capture_on_commit_callbacks, settings,
):
    settings.PETCTWEB_REIDENTIFY = False
    orthanc = orthanc_factory()
    node = _add_node(client_for("study_admin"), port=orthanc.dicom_port)
    with django_capture_on_commit_callbacks(execute=True):
        client_for("study_admin").post(f"/api/cases/{finished_case.code}/results/send/", {"node_id": node["id"]},
                                       format="json")
    assert ResultDelivery.objects.get(node_id=node["id"]).reidentified is False
    assert {tags["PatientID"] for tags in _arrived(orthanc).values()} == {finished_case.code}


def test_bad_input_gets_clear_4xx(client_for, finished_case, imported_case, sent_tasks):
    admin = client_for("study_admin")
    url = f"/api/cases/{finished_case.code}/results/send/"
    response = admin.post(url, {"node_id": 999}, format="json")
    assert response.status_code == 404 and "no DICOM node 999" in response.json()["detail"]
    response = admin.post(url, {}, format="json")
    assert response.status_code == 400 and "node_id" in response.json()["detail"]
    disabled = _add_node(admin, port=104, enabled=False)
    response = admin.post(url, {"node_id": disabled["id"]}, format="json")
    assert response.status_code == 409 and "disabled" in response.json()["detail"]
    response = client_for("reader").post(url, {"node_id": disabled["id"]}, format="json")
    assert response.status_code == 403
    response = admin.post("/api/dicom-nodes/", {"name": "x", "ae_title": "A\\B", "host": "h", "port": 70000},
                          format="json")
    assert response.status_code == 400 and "port" in response.json()["detail"]
    response = admin.post("/api/dicom-nodes/", {"name": "x", "ae_title": "WAY-TOO-LONG-AE-TITLE", "host": "h",
                                                "port": 104}, format="json")
    assert response.status_code == 400 and "ae_title" in response.json()["detail"]
    assert not ResultDelivery.objects.exists()
    assert DicomNode.objects.count() == 1
    assert 'data-testid="pacs-panel"' not in client_for("reader").get(f"/cases/{finished_case.code}/").content.decode()


def test_a_case_without_a_result_cannot_be_sent(client_for, imported_case):
    admin = client_for("study_admin")
    node = _add_node(admin, port=104)
    response = admin.post(f"/api/cases/{imported_case.code}/results/send/", {"node_id": node["id"]}, format="json")
    assert response.status_code == 409 and "no finished model result" in response.json()["detail"]


def test_node_crud_for_administrators(client_for, users):
    admin = client_for("study_admin")
    node = _add_node(admin, port=11112, ae_title="PACS1")
    url = f"/api/dicom-nodes/{node['id']}/"
    assert admin.patch(url, {"enabled": False}, format="json").json()["enabled"] is False
    assert admin.get("/api/dicom-nodes/").json()["results"][0]["enabled"] is False
    assert client_for("pathologist").get("/api/dicom-nodes/").status_code == 403
    assert admin.delete(url).status_code == 204
    assert admin.get(url).status_code == 404
    assert AuditEvent.objects.filter(action__startswith="pacs.node.").count() == 3


def test_deliveries_go_to_the_default_queue_whatever_routes_the_inference_tasks_take(settings):
    from petctweb.celery import app as celery_app

    route = celery_app.amqp.router.route({"queue": settings.CELERY_TASK_DEFAULT_QUEUE}, DELIVER_TASK)
    assert route["queue"].name == "default"
