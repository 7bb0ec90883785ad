"""Who may see results and exports, what the exports contain, and that every export is audited."""

from __future__ import annotations

import csv
import gzip
import io
import json
import zipfile

import nibabel as nib
import pytest
from django.core.management import call_command

from audit.models import AuditEvent
from studies.results.exports import READS_COLUMNS, STATISTICS_COLUMNS
from studies.stats.imrmc import parse_imrmc
from studies.stats.mrmc import obuchowski_rockette
from studies.stats.results import jsonable

from .conftest import build_crossover

pytestmark = pytest.mark.django_db

ENDPOINTS = ("api/studies/{id}/results/", "api/studies/{id}/results/json", "api/studies/{id}/results/reads.csv",
             "api/studies/{id}/results/statistics.csv", "api/studies/{id}/results/study.imrmc",
             "api/studies/{id}/results/masks.zip")
PAGE = "studies/{id}/results/"
EXPORTS = {"json": "application/json", "reads.csv": "text/csv", "statistics.csv": "text/csv",
           "study.imrmc": "text/plain", "masks.zip": "application/zip"}


@pytest.fixture
def small(users):
    return build_crossover(users, n_cases=6)


def test_permission_matrix(small, client_for, users):
    failures = []
    expected = {"superuser": 200, "study_admin": 200, "reader": 403, "reader2": 403, "pathologist": 403,
                "no_role": 403, None: 403}
    for role, status in expected.items():
        client = client_for(role)
        for pattern in ENDPOINTS:
            response = client.get("/" + pattern.format(id=small.study.pk))
            if response.status_code != status:
                failures.append(f"{pattern} as {role}: {response.status_code} (expected {status})")
        page = client.get("/" + PAGE.format(id=small.study.pk))
        want = 302 if role is None else status
        if page.status_code != want or (role is None and "/accounts/login/" not in page["Location"]):
            failures.append(f"{PAGE} as {role}: {page.status_code} (expected {want})")
    admin = client_for("study_admin")
    for pattern in (*ENDPOINTS, PAGE):
        if admin.get("/" + pattern.format(id=999999)).status_code != 404:
            failures.append(f"{pattern} of a missing study is not 404")
    assert not failures, "\n".join(failures)


def test_dashboard_page_has_stable_test_ids_and_is_audited(small, client_for):
    before = AuditEvent.objects.filter(action="study_results.view").count()
    page = client_for("study_admin").get(f"/studies/{small.study.pk}/results/")
    html = page.content.decode()
    for testid in ("results-dashboard", "results-refresh", "results-autorefresh", "results-updated-at",
                   "accuracy-section", "roc-section", "forest-section", "agreement-section", "comparisons-section",
                   "segmentation-section", "per-face-section", "not-computable-section", "export-json",
                   "export-reads-csv", "export-statistics-csv", "export-study-imrmc", "export-masks-zip"):
        assert f'data-testid="{testid}"' in html, testid
    config = json.loads(html.split('<script id="results-config" type="application/json">')[1].split("</script>")[0])
    assert config["apiUrl"] == f"/api/studies/{small.study.pk}/results/" and config["refreshSeconds"] == 10
    assert "results/dashboard.mjs" in html
    assert AuditEvent.objects.filter(action="study_results.view").count() == before + 1


def test_every_export_is_audited(small, client_for, users):
    admin = client_for("study_admin")
    for fmt, content_type in EXPORTS.items():
        before = AuditEvent.objects.filter(action="study.export").count()
        response = admin.get(f"/api/studies/{small.study.pk}/results/{fmt}")
        assert response.status_code == 200, (fmt, response.content[:300])
        assert response["Content-Type"].startswith(content_type)
        assert "attachment" in response["Content-Disposition"]
        events = AuditEvent.objects.filter(action="study.export").order_by("-id")
        assert events.count() == before + 1, fmt
        event = events.first()
        assert event.actor == users["study_admin"] and event.object_type == "study"
        assert event.detail["study_id"] == small.study.pk and event.detail["format"] == fmt
    # Polling the dashboard data is not an export; its view is audited once per 15 minutes.
    before = AuditEvent.objects.filter(action="study.export").count()
    admin.get(f"/api/studies/{small.study.pk}/results/")
    admin.get(f"/api/studies/{small.study.pk}/results/")
    assert AuditEvent.objects.filter(action="study.export").count() == before
    assert AuditEvent.objects.filter(action="study_results.view", actor=users["study_admin"]).count() == 1


def test_exports_parse(small, client_for):
    admin = client_for("study_admin")
    base = f"/api/studies/{small.study.pk}/results/"
    report = admin.get(base).json()

    reads = list(csv.reader(io.StringIO(admin.get(base + "reads.csv").content.decode())))
    assert reads[0] == READS_COLUMNS
    rows = [dict(zip(reads[0], row, strict=True)) for row in reads[1:]]
    assert sum(r["final"] == "1" for r in rows) == 3 * 2 * 6  # readers x sessions x cases
    assert len(rows) == 3 * 2 * 6 + 6  # reader1 amended case 0 once and case 2 twice, in both sessions
    first = next(r for r in rows if r["case"] == small.cases[0].code and r["reader"] == "reader1"
                 and r["session_key"] == "unaided" and r["final"] == "1")
    assert first["version"] == "2" and first["truth_status"] == "positive" and first["model"] == "fake:1"

    stats = list(csv.reader(io.StringIO(admin.get(base + "statistics.csv").content.decode())))
    assert stats[0] == STATISTICS_COLUMNS
    table = [dict(zip(stats[0], row, strict=True)) for row in stats[1:]]
    sens = next(r for r in table if r["section"] == "accuracy" and r["rater"] == "AI model"
                and r["metric"] == "sensitivity")
    expected = report["accuracy"]["model"]["sensitivity"]
    assert float(sens["value"]) == expected["value"] and float(sens["ci_low"]) == expected["ci95"][0]
    sections = {r["section"] for r in table}
    assert {"accuracy", "per_face", "roc", "agreement", "comparisons", "mrmc", "model_vs_readers",
            "segmentation"} <= sections
    fleiss = next(r for r in table if r["metric"] == "fleiss_kappa" and r["session"] == "aided")
    assert float(fleiss["value"]) == report["agreement"]["sessions"]["aided"]["fleiss"]["kappa"]

    data = parse_imrmc(text=admin.get(base + "study.imrmc").content.decode())
    assert data.modalities == ("aided", "unaided") and set(data.readers) == {"reader1", "reader2", "reader3"}
    assert len(data.cases) == 6 and not data.missing()
    assert jsonable(obuchowski_rockette(data=data)) == report["comparisons"]["mrmc"]["result"]

    downloaded = json.loads(admin.get(base + "json").content)
    stored_only = {"generated_at", "computed_at", "stale"}  # the dashboard's copy says when it was computed
    assert {k: v for k, v in downloaded.items() if k not in stored_only} == {
        k: v for k, v in report.items() if k not in stored_only}

    response = admin.get(base + "masks.zip")
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    manifest = json.loads(archive.read("manifest.json"))
    sources = {entry["source"] for entry in manifest["files"]}
    assert sources == {"model", "reader", "ground_truth"}
    entry = next(e for e in manifest["files"] if e["source"] == "ground_truth")
    image = nib.Nifti1Image.from_bytes(gzip.decompress(archive.read(entry["nifti"])))
    assert image.shape == (8, 6, 4) and int(image.get_fdata().sum()) > 0
    assert all(e["dicom_seg"] is None and "source CT headers" in e["dicom_seg_skipped"] for e in manifest["files"])


def test_export_study_command_writes_every_file_and_audits(small, tmp_path, users):
    out = tmp_path / "export"
    before = AuditEvent.objects.filter(action="study.export").count()
    call_command("export_study", str(small.study.pk), str(out), "--user", "admin1", stdout=io.StringIO())
    names = sorted(p.name for p in out.iterdir())
    sid = small.study.pk
    assert names == sorted([f"study-{sid}-results.json", f"study-{sid}-reads.csv", f"study-{sid}-statistics.csv",
                            f"study-{sid}-study.imrmc", f"study-{sid}-masks.zip"])
    events = AuditEvent.objects.filter(action="study.export").order_by("id")[before:]
    assert [e.detail["format"] for e in events] == ["json", "reads.csv", "statistics.csv", "study.imrmc",
                                                    "masks.zip"]
    assert all(e.actor == users["study_admin"] and e.detail["via"] == "export_study command" for e in events)
    parse_imrmc(text=(out / f"study-{sid}-study.imrmc").read_text())
    assert json.loads((out / f"study-{sid}-results.json").read_text())["study"]["id"] == sid
