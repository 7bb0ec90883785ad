"""The re-identification store: written at import, encrypted, audited, never in an API, off for research."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from audit.models import AuditEvent
from cases.models import Case, Reidentification
from cases.reidentification import reidentification_load
from petctweb.errors import DomainError

pytestmark = pytest.mark.django_db

ORIGINAL_PATIENT = "PHANTOM-0000"  # what the generated phantom carries before de-identification


def _original_study_uid(case_dir) -> str:
    import pydicom

    return str(pydicom.dcmread(next((case_dir / "ct").iterdir()), stop_before_pixels=True).StudyInstanceUID)


def test_import_keeps_the_originals_encrypted_and_audited(imported_case, one_case_dir, client_for):
    row = Reidentification.objects.get(case=imported_case)
    study_uid = _original_study_uid(one_case_dir)
    assert ORIGINAL_PATIENT.encode() not in bytes(row.payload) and study_uid.encode() not in bytes(row.payload)
    assert AuditEvent.objects.filter(action="reidentification.store", case_code=imported_case.code).count() == 1
    originals = reidentification_load(case=imported_case, purpose="test")
    assert originals.attributes["PatientID"] == ORIGINAL_PATIENT
    assert study_uid in originals.uids.values()
    assert len(originals.uids) >= 2 + len(list((one_case_dir / "ct").iterdir()))  # study, series, every CT image
    assert AuditEvent.objects.filter(action="reidentification.use", case_code=imported_case.code,
                                     detail__purpose="test").count() == 1
    for role in ("study_admin", "superuser", "reader", "pathologist"):  # no API shows an original identifier
        body = client_for(role).get(f"/api/cases/{imported_case.code}/").content.decode()
        assert ORIGINAL_PATIENT not in body and study_uid not in body


def test_research_mode_stores_nothing(one_case_dir, settings):
    settings.PETCTWEB_REIDENTIFY = False
    call_command("import_dicom", str(one_case_dir), stdout=io.StringIO())
    case = Case.objects.get()
    assert not Reidentification.objects.exists()
    assert reidentification_load(case=case, purpose="test") is None


def test_a_changed_key_is_a_clear_error(imported_case, settings):
    from cryptography.fernet import Fernet

    settings.PETCTWEB_REID_KEY = Fernet.generate_key().decode()
    with pytest.raises(DomainError, match="cannot be decrypted"):
        reidentification_load(case=imported_case, purpose="test")
    settings.PETCTWEB_REID_KEY = "not-a-key"
    with pytest.raises(DomainError, match="not a valid Fernet key"):
        reidentification_load(case=imported_case, purpose="test")
