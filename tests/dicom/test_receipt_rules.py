"""The receiver's completion rules without a network (the listener test covers them end to end): a study
still being sent is never closed however long the pause, and a handled study's folder is gone by the time
its receipt says so; both once caused the full-size listener test's leftover folder."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

import cases.receiver.services as receiver
from cases.models import Case, ReceivedStudy
from cases.receiver.listener import listener_config
from cases.receiver.store import StoredInstance
from cases.receiver.tracker import ReceiptTracker

pytestmark = pytest.mark.django_db


def stored(key: str, folder: Path) -> StoredInstance:
    return StoredInstance(study_key=key, study_dir=folder, modality="CT", path=folder / "CT" / "x.dcm", calling_ae="A")


def test_a_study_on_an_open_association_is_busy_until_the_association_closes(tmp_path):
    tracker = ReceiptTracker()
    tracker.record(stored("s1", tmp_path), 101)
    tracker.record(stored("s2", tmp_path), 102)
    assert tracker.busy_studies() == {"s1", "s2"}
    tracker.take()  # recorded in the database: only the open associations keep them busy
    assert tracker.busy_studies() == {"s1", "s2"}
    tracker.association_closed(101)
    assert tracker.busy_studies() == {"s2"}
    tracker.association_closed(102)
    assert tracker.busy_studies() == set()


def test_a_quiet_study_still_being_sent_is_not_closed(tmp_path, monkeypatch):
    monkeypatch.setattr(receiver, "_enqueue", lambda pk: None)
    for key in ("sending", "finished"):
        folder = tmp_path / key
        for modality in ("CT", "PT"):
            (folder / modality / "series").mkdir(parents=True)
            (folder / modality / "series" / "one.dcm").write_bytes(b"x")
        ReceivedStudy.objects.create(study_key=key, folder=str(folder), instances=2,
                                     last_received_at=timezone.now() - timedelta(seconds=60))
    closed = receiver.received_studies_close_quiet(quiet_seconds=5, busy={"sending"})
    assert ReceivedStudy.objects.get(study_key="finished").status == "queued"
    assert closed == [ReceivedStudy.objects.get(study_key="finished").pk]
    assert ReceivedStudy.objects.get(study_key="sending").status == "receiving"


def test_the_folder_is_gone_when_the_receipt_says_done(tmp_path, monkeypatch):
    folder = tmp_path / "study"
    (folder / "CT").mkdir(parents=True)
    received = ReceivedStudy.objects.create(study_key="k", folder=str(folder), status="queued", instances=1,
                                            last_received_at=timezone.now())
    seen_when_done = []

    def fake_import(*, path, source, on_stage, clock=None):
        on_stage("checking")
        case = Case.objects.create(code="PC-RULES", patient_key="p", study_key="k", source=source, ct_acquired={},
                                   pet_acquired={}, working_grid={}, pet_units="BQML")
        return [type("Imported", (), {"case": case})()]

    original_finish = receiver._finish

    def finish(received, **kwargs):
        original_finish(received, **kwargs)
        seen_when_done.append(folder.exists())

    monkeypatch.setattr(receiver, "case_import", fake_import)
    monkeypatch.setattr(receiver, "_finish", finish)
    assert receiver.received_study_ingest(received_id=received.pk) == "done"
    assert seen_when_done == [False]
    deadline = time.monotonic() + 30  # the set-aside copy is removed too, beside the worker's next task
    while list(tmp_path.iterdir()) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not list(tmp_path.iterdir())
    received.refresh_from_db()
    assert received.stage == "done" and received.case.code == "PC-RULES"


def test_the_incoming_folder_is_absolute_whatever_the_setting(settings, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings.PETCTWEB_DICOM_INCOMING_DIR = Path("var/incoming")
    settings.PETCTWEB_DICOM_ALLOWED_AES = ["A"]
    assert listener_config().incoming_dir == tmp_path / "var" / "incoming"
