"""Requesting "retrain with the current ground truth": who may, what is checked before queueing."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from django.utils import timezone

from audit.models import AuditEvent
from petctweb.errors import DomainError
from studies.services import ground_truth_record
from training.models import TrainingJob
from training.selectors import training_eligibility
from training.services import training_job_request

from .conftest import outline_ground_truth

pytestmark = pytest.mark.django_db

URL = "/api/training-jobs/"


@pytest.mark.parametrize("role", ["anonymous", "no_role", "reader", "pathologist"])
def test_only_study_admins_may_request_or_list(client_for, role, tiny_truth):
    client = client_for(None if role == "anonymous" else role)
    assert client.post(URL, {"folds": 2, "epochs": 1}, format="json").status_code == 403
    assert client.get(URL).status_code == 403
    assert not TrainingJob.objects.exists()


def test_the_service_refuses_non_admins_too(users, tiny_truth):
    with pytest.raises(DomainError, match="Only study administrators") as error:
        training_job_request(user=users["pathologist"], folds=2, epochs=1)
    assert error.value.http_status == 403


@pytest.mark.parametrize("body, field", [
    ({"folds": 1, "epochs": 1}, "folds"),
    ({"folds": 11, "epochs": 1}, "folds"),
    ({"folds": "five", "epochs": 1}, "folds"),
    ({"folds": 2, "epochs": 0}, "epochs"),
    ({"folds": 2, "epochs": 1001}, "epochs"),
    ({"folds": 2, "epochs": 1, "seed": -1}, "seed"),
])
def test_invalid_parameters_are_refused_with_a_message(client_for, tiny_truth, body, field):
    response = client_for("study_admin").post(URL, body, format="json")
    assert response.status_code == 400
    assert response.json()["detail"].startswith(f"{field}:")
    assert not TrainingJob.objects.exists()


def test_too_few_patients_is_refused_before_queueing(client_for, tiny_truth):
    response = client_for("study_admin").post(URL, {"folds": 3, "epochs": 1}, format="json")
    assert response.status_code == 400
    assert response.json() == {
        "detail": "need signed-off ground truth with an outline for at least 3 patients (3 folds), found 2",
        "code": "too_few_patients",
    }
    assert not TrainingJob.objects.exists()


def test_no_ground_truth_at_all(client_for, users):
    response = client_for("superuser").post(URL, {"folds": 2, "epochs": 1}, format="json")
    assert response.status_code == 400 and response.json()["detail"].endswith("found 0")


def test_eligibility_counts_signed_off_outlined_truth_only(users, tiny_truth):
    from tests.studies_app.conftest import make_case

    no_outline = make_case()
    gt = ground_truth_record(user=users["pathologist"], case=no_outline, margin_status="negative")
    from studies.services import ground_truth_sign_off

    ground_truth_sign_off(user=users["pathologist"], ground_truth=gt)
    draft = make_case()  # outlined but not signed off: not ground truth yet
    outline = np.zeros(draft.grid.shape, np.uint8)
    outline[1, 1:3, 1:3] = 1
    outline_ground_truth(case=draft, pathologist=users["pathologist"], outline=outline, slice_index=1,
                         sign_off=False)
    eligibility = training_eligibility()
    assert (eligibility.cases, eligibility.patients, eligibility.signed_off) == (3, 2, 4)
    assert eligibility.without_outline == [no_outline.code]
    assert {item.case.code for item in eligibility.items} == {case.code for case in tiny_truth}


def test_one_active_job_at_a_time(client_for, users, tiny_truth):
    client = client_for("study_admin")
    first = client.post(URL, {"folds": 2, "epochs": 1, "seed": 3, "make_default": True}, format="json")
    assert first.status_code == 202
    job = first.json()
    assert job["status"] == "queued" and (job["case_count"], job["patient_count"]) == (3, 2)
    assert job["parameters"] == {"folds": 2, "epochs": 1, "seed": 3, "device": "auto", "make_default": True}
    second = client_for("superuser").post(URL, {"folds": 2, "epochs": 1}, format="json")
    assert second.status_code == 409 and second.json()["code"] == "job_active"
    assert TrainingJob.objects.count() == 1
    event = AuditEvent.objects.get(action="training.request")
    assert event.actor == users["study_admin"] and event.detail["folds"] == 2
    listing = client.get(URL).json()
    assert listing["active"] == job["id"] and [j["id"] for j in listing["results"]] == [job["id"]]
    assert listing["eligible"]["cases"] == 3 and listing["eligible"]["patients"] == 2
    assert client.get(f"{URL}{job['id']}/").json()["status"] == "queued"
    assert client.get(f"{URL}999999/").status_code == 404


def test_a_job_lost_past_the_time_limit_no_longer_blocks(users, tiny_truth, settings):
    lost = training_job_request(user=users["study_admin"], folds=2, epochs=1)
    started = timezone.now() - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 3600)
    TrainingJob.objects.filter(pk=lost.pk).update(status="running", started_at=started, attempts=1)
    fresh = training_job_request(user=users["study_admin"], folds=2, epochs=1)
    lost.refresh_from_db()
    assert lost.status == "failed" and not lost.is_active and "without reporting back" in lost.message
    assert fresh.status == "queued" and fresh.is_active


def test_hidden_overrides_are_checked(users, tiny_truth):
    with pytest.raises(DomainError, match="unknown training option"):
        training_job_request(user=users["study_admin"], folds=2, epochs=1, options={"learning_rate": 1})
    with pytest.raises(DomainError, match="invalid network configuration"):
        training_job_request(user=users["study_admin"], folds=2, epochs=1, network={"width": 3})
    with pytest.raises(DomainError, match="device"):
        training_job_request(user=users["study_admin"], folds=2, epochs=1, device="tpu")
