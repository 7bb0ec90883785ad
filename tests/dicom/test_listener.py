"""The DICOM receiver against dcmtk's echoscu/storescu (Debian's dcmtk; scripts/test.sh installs it):
C-ECHO, refused AEs, refused SOP classes, half-sent studies, full-size and compressed studies to a case."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, RLELossless, generate_uid

from benchmarks.processes import start_process
from cases.models import Case, ReceivedStudy
from inference.models import InferenceRun
from inference.registry import model_version_register
from tests.app.test_watchdog import _database_url, start_worker, stop, wait_for

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(shutil.which("storescu") is None,
                       reason="dcmtk's storescu/echoscu are not installed (scripts/test.sh installs Debian's dcmtk)"),
]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def listener(settings, tmp_path):
    port = free_port()
    # Its own broker folder: a worker of another test session on this machine must not take its messages.
    env = dict(os.environ, DATABASE_URL=_database_url(), PETCTWEB_DEID_SECRET=settings.PETCTWEB_DEID_SECRET,
               PETCTWEB_DICOM_ALLOWED_AES="STORESCU,ECHOSCU", PETCTWEB_DICOM_INCOMING_DIR=str(tmp_path / "incoming"),
               PETCTWEB_BROKER_DIR=str(tmp_path / "broker"))
    log = tmp_path / "listener.log"
    process = start_process([sys.executable, "manage.py", "dicom_listener", "--port", str(port), "--quiet-seconds", "3"],
                            log=log, env=env)
    wait_for(lambda: echo(port).returncode == 0, 90, 0.5, [log])
    yield {"port": port, "log": log, "incoming": tmp_path / "incoming", "broker": tmp_path / "broker"}
    stop(process)


def echo(port: int, aet: str = "ECHOSCU") -> subprocess.CompletedProcess:
    return subprocess.run(["echoscu", "-aet", aet, "-aec", "PETCTWEB", "127.0.0.1", str(port)],
                          capture_output=True, text=True, timeout=30)


def store(port: int, *paths: Path, propose: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    """storescu proposes uncompressed syntaxes unless told otherwise (``-xr``: RLE lossless too); it cannot
    convert RLE to uncompressed itself, so compressed files need their own syntax proposed."""
    return subprocess.run(["storescu", "-v", "-aec", "PETCTWEB", *propose, "+sd", "+r", "127.0.0.1", str(port),
                           *map(str, paths)], capture_output=True, text=True, timeout=300)


def settled(status_in) -> ReceivedStudy | None:
    return ReceivedStudy.objects.filter(status__in=status_in).first()


def test_echo_works_and_an_unknown_calling_ae_is_refused(listener):
    assert echo(listener["port"]).returncode == 0
    refused = echo(listener["port"], aet="STRANGER")
    assert refused.returncode != 0
    assert "Calling AE Title Not Recognized" in refused.stdout + refused.stderr


def test_a_non_image_sop_class_gets_a_failure_status(listener, tmp_path):
    report = Dataset()
    report.file_meta = FileMetaDataset()
    report.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    report.SOPClassUID = report.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.88.11"  # Basic Text SR
    report.SOPInstanceUID = report.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    report.StudyInstanceUID, report.SeriesInstanceUID, report.Modality = generate_uid(), generate_uid(), "SR"
    path = tmp_path / "report.dcm"
    report.save_as(path, enforce_file_format=True)
    sent = store(listener["port"], path)
    output = sent.stdout + sent.stderr
    assert sent.returncode != 0
    assert "Refused: SOPClassNotSupported" in output, output  # status 0x0122
    assert not ReceivedStudy.objects.exists()


def test_a_half_sent_study_never_becomes_a_case_and_says_why(listener, one_case_dir):
    assert store(listener["port"], one_case_dir / "ct").returncode == 0
    received = wait_for(lambda: settled(["incomplete"]), 60, 0.3, [listener["log"]])
    assert received.ct_instances > 0 and received.pet_instances == 0
    assert "no PET series" in received.message
    time.sleep(3.5)  # another quiet period changes nothing
    assert ReceivedStudy.objects.get(pk=received.pk).status == "incomplete"
    assert not Case.objects.exists()


@pytest.mark.slow
@pytest.mark.worker
def test_a_full_size_study_and_a_compressed_one_become_cases_once(listener, settings, tiny_bundle, tmp_path,
                                                                  one_case_dir):
    from cases.phantoms.generator import generate_phantoms

    model_version_register(source_dir=tiny_bundle, name="tiny", version="dicom", make_default=True)
    generate_phantoms(out_dir=tmp_path / "full", n=1, seed=5, size="full")
    full = tmp_path / "full" / "case_0000"
    worker = start_worker(settings, tmp_path / "worker.log", "dicom",
                          {"PETCTWEB_AUTO_INFERENCE": "1", "PETCTWEB_BROKER_DIR": str(listener["broker"])})
    logs = [listener["log"], tmp_path / "worker.log"]
    try:
        assert store(listener["port"], full / "ct", full / "pet").returncode == 0
        received = wait_for(lambda: settled(["done", "failed"]), 240, 0.5, logs)
        assert received.status == "done", received.message
        assert received.case.source == "scanner"
        assert received.ct_instances + received.pet_instances == len(list(full.rglob("*.dcm"))) - len(
            list((full / "truth").rglob("*.dcm")))
        assert not Path(received.folder).exists(), list(ReceivedStudy.objects.values("pk", "status", "instances", "message"))
        assert InferenceRun.objects.filter(case=received.case).exists()  # inference started by itself

        # The same study again: recognised, no second case.
        assert store(listener["port"], full / "ct", full / "pet").returncode == 0
        again = wait_for(lambda: ReceivedStudy.objects.exclude(pk=received.pk).filter(
            status__in=["duplicate", "done", "failed"]).first(), 240, 0.5, logs)
        assert again.status == "duplicate" and again.case_id == received.case_id
        assert Case.objects.count() == 1

        # An RLE-compressed study arrives in its own transfer syntax and is ingested too.
        compressed = tmp_path / "rle"
        for source in sorted(one_case_dir.glob("*/*.dcm")):
            dataset = pydicom.dcmread(source)
            dataset.compress(RLELossless)
            target = compressed / source.parent.name / source.name
            target.parent.mkdir(parents=True, exist_ok=True)
            dataset.save_as(target)
        sent = store(listener["port"], compressed, propose=("-xr",))
        assert "RLE Lossless -> Little Endian" not in sent.stdout + sent.stderr  # sent as RLE, not decoded first
        assert sent.returncode == 0, sent.stderr
        rle = wait_for(lambda: ReceivedStudy.objects.exclude(pk__in=[received.pk, again.pk]).filter(
            status__in=["duplicate", "done", "failed"]).first(), 240, 0.5, logs)
        assert rle.status == "done", rle.message
        assert Case.objects.count() == 2
    finally:
        stop(worker)
