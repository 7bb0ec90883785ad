"""The dashboard serves a stored report computed by a worker: 202 until the first, stale after new inputs.

Here the queue is real up to the broker: messages handed to ``send_task`` are recorded, and the
worker's job is run by calling the task, as a worker would.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from petctweb.celery import app as celery_app
from studies.models import StudyReport
from studies.results import stored
from studies.services import read_amend
from studies.tasks import compute_study_report

from .conftest import build_crossover

pytestmark = pytest.mark.django_db
ORIGINAL_REQUEST = stored.study_report_request


@pytest.fixture(autouse=True)
def real_queue(report_worker_inline, monkeypatch):
    """Undo the suite's inline worker: requests go to the (recorded) broker again."""
    monkeypatch.setattr(stored, "study_report_request", ORIGINAL_REQUEST)


@pytest.fixture
def sent(monkeypatch) -> list[tuple[str, list]]:
    messages: list[tuple[str, list]] = []
    monkeypatch.setattr(celery_app, "send_task", lambda name, args=(), **kw: messages.append((name, list(args))))
    return messages


@pytest.fixture
def computations(monkeypatch) -> list[int]:
    """Study ids whose statistics were computed (the real computation, counted)."""
    calls: list[int] = []
    real = stored.compute

    def counted(study, **kwargs):
        calls.append(study.pk)
        return real(study, **kwargs)

    monkeypatch.setattr(stored, "compute", counted)
    return calls


@pytest.fixture
def study(users):
    return build_crossover(users, n_cases=4, with_masks=False).study


def get(client, study, capture):
    with capture(execute=True):  # the view's transaction commits: queued messages are sent
        return client.get(f"/api/studies/{study.pk}/results/")


def test_first_request_answers_202_then_the_worker_result_is_served_and_reused(
        study, client_for, sent, computations, django_capture_on_commit_callbacks):
    admin = client_for("study_admin")
    first = get(admin, study, django_capture_on_commit_callbacks)
    assert first.status_code == 202 and first.json() == {"status": "computing"}
    assert sent == [(stored.COMPUTE_TASK, [study.pk, ""])] and computations == []

    again = get(admin, study, django_capture_on_commit_callbacks)
    assert again.status_code == 202 and len(sent) == 1  # debounced: one is queued already

    assert compute_study_report.name == stored.COMPUTE_TASK  # what the message names is this task
    assert compute_study_report(*sent[0][1]) == "ready"
    ready = get(admin, study, django_capture_on_commit_callbacks)
    body = ready.json()
    assert ready.status_code == 200 and body["stale"] is False and body["computed_at"]
    assert body["accuracy"] and len(body["cases"]) == 4

    for _ in range(3):
        assert get(admin, study, django_capture_on_commit_callbacks).json()["computed_at"] == body["computed_at"]
    assert computations == [study.pk] and len(sent) == 1  # the same inputs: never computed again


def test_a_new_read_makes_it_stale_served_while_one_recompute_runs(
        study, client_for, users, sent, computations, django_capture_on_commit_callbacks):
    admin = client_for("study_admin")
    get(admin, study, django_capture_on_commit_callbacks)
    compute_study_report(study.pk, "")
    before = get(admin, study, django_capture_on_commit_callbacks).json()

    read = study.reads.filter(reader__username="reader2", amended_by__isnull=True).first()
    read_amend(user=users["reader2"], case=read.case, read_id=read.pk, status="negative", confidence=1,
               time_spent_s=5)
    stale = get(admin, study, django_capture_on_commit_callbacks)
    assert stale.status_code == 200
    assert stale.json()["stale"] is True and stale.json()["computed_at"] == before["computed_at"]
    assert len(sent) == 2
    get(admin, study, django_capture_on_commit_callbacks)
    assert len(sent) == 2  # one recompute at a time

    compute_study_report(study.pk, "")
    fresh = get(admin, study, django_capture_on_commit_callbacks).json()
    assert fresh["stale"] is False and fresh["computed_at"] != before["computed_at"]
    assert computations == [study.pk, study.pk]


def test_a_request_whose_report_never_came_is_sent_again(study, client_for, sent,
                                                          django_capture_on_commit_callbacks):
    admin = client_for("study_admin")
    get(admin, study, django_capture_on_commit_callbacks)
    StudyReport.objects.filter(study=study).update(requested_at=timezone.now() - timedelta(hours=1))
    assert get(admin, study, django_capture_on_commit_callbacks).status_code == 202
    assert len(sent) == 2  # the first message was lost (a killed worker): asked again


def test_a_report_that_cannot_be_computed_is_a_clear_409_until_its_inputs_change(
        study, client_for, sent, monkeypatch, django_capture_on_commit_callbacks):
    from petctweb.errors import DomainError

    def broken(study, **kwargs):
        raise DomainError("no reads yet", code="not_computable")

    monkeypatch.setattr(stored, "compute", broken)
    admin = client_for("study_admin")
    get(admin, study, django_capture_on_commit_callbacks)
    assert compute_study_report(study.pk, "") == "failed"
    response = get(admin, study, django_capture_on_commit_callbacks)
    assert response.status_code == 409 and "no reads yet" in response.json()["detail"]
    assert len(sent) == 1  # not retried in a loop


def test_only_study_administrators_see_it_and_readers_queue_nothing(study, client_for, sent,
                                                                     django_capture_on_commit_callbacks):
    for role in ("reader", "pathologist", "no_role"):
        assert get(client_for(role), study, django_capture_on_commit_callbacks).status_code == 403
    assert sent == [] and not StudyReport.objects.exists()
