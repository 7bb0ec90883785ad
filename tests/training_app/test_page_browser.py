"""The training page in the browser: a refused request shows why; a job's progress and result appear live."""

from __future__ import annotations

import pytest

from tests.browser.conftest import login
from training.models import TrainingJob
from training.services import training_job_execute

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_retrain_from_the_page_with_live_progress(page, live_server, users, tiny_truth, monkeypatch):
    queued = []
    monkeypatch.setattr("training.services._enqueue", queued.append)  # no broker: the test plays the worker
    login(page, live_server, "admin1", "pw-admin1")
    page.get_by_test_id("nav-training").click()
    assert page.get_by_test_id("eligible-cases").inner_text() == "3"
    assert page.get_by_test_id("eligible-patients").inner_text() == "2"

    page.get_by_test_id("training-folds").fill("3")
    page.get_by_test_id("training-submit").click()
    error = page.get_by_test_id("training-error")
    error.wait_for(state="visible")
    assert "at least 3 patients (3 folds), found 2" in error.inner_text()

    page.get_by_test_id("training-folds").fill("2")
    page.get_by_test_id("training-epochs").fill("1")
    page.get_by_test_id("training-submit").click()
    page.get_by_test_id("training-progress").wait_for()
    job = TrainingJob.objects.get()
    assert queued == [job.pk] and page.get_by_test_id("training-submit").is_disabled()
    assert page.get_by_test_id("training-job-status").inner_text() == "queued"

    TrainingJob.objects.filter(pk=job.pk).update(status="running", progress=55.0, message="fold 1 epoch 1/1")
    page.get_by_text("fold 1 epoch 1/1").wait_for()
    assert page.get_by_test_id("training-progress").get_attribute("value") == "55"

    TrainingJob.objects.filter(pk=job.pk).update(status="queued", progress=0.0)
    assert training_job_execute(job_id=job.pk) == "done"
    model = page.get_by_test_id("training-job-model")
    model.wait_for()
    assert model.inner_text() == TrainingJob.objects.get().model_version.label
    assert page.get_by_test_id("training-job-status").inner_text() == "done"
    assert page.get_by_test_id("training-submit").is_enabled()
