"""cases announces imports without importing inference; inference listens (auto inference after commit), and
services queue their tasks by registered name (tasks import services, never the reverse)."""

from __future__ import annotations

import pytest
from django.db import transaction

from cases import events
from cases.models import Case
from cases.services import case_import
from inference.models import InferenceRun, ModelVersion
from inference.services import RUN_INFERENCE_TASK, inference_run_request
from petctweb.celery import app as celery_app
from training.services import RUN_TRAINING_JOB_TASK

pytestmark = pytest.mark.django_db


@pytest.fixture
def default_model(db) -> ModelVersion:
    return ModelVersion.objects.create(name="fake", version="1", architecture="none", config={}, bundle_dir="fake",
                                       is_default=True)


@pytest.fixture
def heard(monkeypatch) -> list[tuple[str, object]]:
    """A listener registered like a higher app would, removed again after the test."""
    calls: list[tuple[str, object]] = []
    monkeypatch.setattr(events, "_case_imported", list(events._case_imported))
    events.on_case_imported(lambda *, case, user: calls.append((case.code, user)))
    return calls


@pytest.fixture
def sent(monkeypatch) -> list[tuple[str, list]]:
    """Messages handed to the broker (no broker here)."""
    messages: list[tuple[str, list]] = []
    monkeypatch.setattr(celery_app, "send_task", lambda name, args=(), **kw: messages.append((name, list(args))))
    return messages


def test_listeners_hear_each_imported_case_after_commit(one_case_dir, heard, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as pending:
        [item] = case_import(path=one_case_dir, source=Case.Source.IMPORT)
    assert heard == []  # not before the transaction commits
    for callback in pending:
        callback()
    assert heard == [(item.case.code, None)]


def test_a_rolled_back_import_is_never_announced(one_case_dir, heard, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError):
        with transaction.atomic():
            case_import(path=one_case_dir, source=Case.Source.IMPORT)
            raise RuntimeError("the caller's transaction fails")
    assert heard == []


def test_registering_twice_calls_once(heard):
    listener = events.case_imported_callbacks()[-1]
    events.on_case_imported(listener)
    assert events.case_imported_callbacks().count(listener) == 1


@pytest.mark.parametrize("auto", [True, False])
def test_inference_queues_the_default_model_after_an_import_when_configured(
        auto, one_case_dir, default_model, settings, sent, django_capture_on_commit_callbacks):
    settings.PETCTWEB_AUTO_INFERENCE = auto
    with django_capture_on_commit_callbacks(execute=True):
        [item] = case_import(path=one_case_dir, source=Case.Source.IMPORT)
    runs = list(InferenceRun.objects.filter(case=item.case))
    if auto:
        assert [(r.model_version_id, r.status) for r in runs] == [(default_model.pk, "queued")]
        assert sent == [(RUN_INFERENCE_TASK, [runs[0].pk])]
    else:
        assert runs == [] and sent == []


def test_a_requested_run_is_sent_by_the_registered_task_name_on_commit(one_case_dir, default_model, sent,
                                                                        django_capture_on_commit_callbacks):
    [item] = case_import(path=one_case_dir, source=Case.Source.IMPORT)
    with django_capture_on_commit_callbacks(execute=False) as pending:
        run = inference_run_request(case=item.case, model_version=default_model)
    assert sent == []  # only once the run row is committed
    for callback in pending:
        callback()
    assert sent == [(RUN_INFERENCE_TASK, [run.pk])]


def test_task_names_used_by_services_are_registered_and_routed_by_purpose():
    from inference.tasks import run_inference
    from training.tasks import run_training_job

    assert run_inference.name == RUN_INFERENCE_TASK
    assert run_training_job.name == RUN_TRAINING_JOB_TASK
    # Training has its own queue so a retraining job never delays an intraoperative inference.
    assert celery_app.amqp.router.route({}, RUN_INFERENCE_TASK)["queue"].name == "gpu"
    assert celery_app.amqp.router.route({}, RUN_TRAINING_JOB_TASK)["queue"].name == "training"
