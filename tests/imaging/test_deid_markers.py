"""Every text attribute of the Annex E profile carries a marker into a real upload; none comes out.

Checked: every table of the database (dumpdata), every file under MEDIA_ROOT (gunzipped), the
case list and case page, the case API and all log records. File names carry a marker too: they
must not reach anything a reader sees.
"""

from __future__ import annotations

import gzip
import io
import json
import logging
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse

from cases.imaging.deid_profile import PATIENT_CHARACTERISTICS, PROFILE_PATH
from tests.fuzz.mutations import encode, put

from .dicom_factory import make_ct_series, make_pet_series

TEXT_VRS = frozenset({"LO", "SH", "LT", "ST", "UT", "UC", "PN", "AE", "CS", "UR"})
MARKER = "MK"


def _profile_text_attributes() -> list[tuple[str, str]]:
    rows = json.loads(PROFILE_PATH.read_text())["attributes"]
    return [
        (row["keyword"], f"{MARKER}{row['tag']}")
        for row in rows
        if row["keyword"]
        and row["vr"] in TEXT_VRS
        and not row["tag"].startswith("0002")
        and row["keyword"] not in PATIENT_CHARACTERISTICS  # kept on purpose (option), not PHI
    ]


def _stuffed_files() -> list[tuple[str, bytes]]:
    ct = make_ct_series(shape=(4, 8, 10))
    pet = make_pet_series(shape=(4, 8, 10))
    for ds in pet:
        ds.StudyInstanceUID, ds.FrameOfReferenceUID = ct[0].StudyInstanceUID, ct[0].FrameOfReferenceUID
    attributes = _profile_text_attributes()
    assert len(attributes) > 150  # the whole table, not a handful
    for ds in (*ct, *pet):
        for keyword, marker in attributes:
            put(ds, keyword, marker)
    files = [(f"{MARKER}FILE-ct{i}.dcm", encode(ds)) for i, ds in enumerate(ct)]
    files += [(f"{MARKER}FILE-pt{i}.dcm", encode(ds)) for i, ds in enumerate(pet)]
    return [*files, (f"{MARKER}FILE-readme.txt", b"not an image")]


def _media_text(root: Path) -> str:
    chunks = []
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            if data[:2] == b"\x1f\x8b":
                data = gzip.decompress(data)
            chunks.append(data.decode("latin-1"))
    return "\n".join(chunks)


@pytest.mark.django_db
def test_no_marker_survives_an_upload(client_for, settings, caplog):
    caplog.set_level(logging.DEBUG)
    admin = client_for("superuser")
    response = admin.post(
        reverse("api-case-upload"),
        {"files": [SimpleUploadedFile(name, content) for name, content in _stuffed_files()]},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    code = response.json()["cases"][0]["code"]

    dump = io.StringIO()
    call_command("dumpdata", stdout=dump)
    assert "Skipped 1 non-DICOM" in dump.getvalue()  # the warning is stored, without its file name
    places = {
        "database": dump.getvalue(),
        "media": _media_text(Path(settings.MEDIA_ROOT)),
        "logs": "\n".join(record.getMessage() for record in caplog.records),
    }
    reader = client_for("reader")
    for url in (reverse("case-list"), reverse("case-page", kwargs={"code": code}),
                reverse("api-case-list"), reverse("api-case-detail", kwargs={"code": code})):
        page = reader.get(url)
        assert page.status_code == 200, url
        places[url] = page.content.decode()
    # The whole markers, not just their prefix: two letters turn up by chance in random tokens (session keys).
    markers = [marker for _, marker in _profile_text_attributes()] + [f"{MARKER}FILE"]
    leaks = {
        where: text[text.index(marker) - 60 : text.index(marker) + 40]
        for where, text in places.items()
        for marker in markers
        if marker in text
    }
    assert places["media"].count("vr") > 100, "the stored headers were not scanned"
    assert not leaks, leaks
