"""The dashboard with few cases: operating points without ROC curves, intervals only where defined,
plain model labels, and every chart downloadable (PNG/SVG in the page, CSV from the audited export)."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from audit.models import AuditEvent
from petctweb.roles import READER
from tests.conftest import make_user

from .conftest import build_crossover

pytestmark = pytest.mark.django_db
NODE = shutil.which("node")
STATIC = Path(__file__).resolve().parents[2] / "frontend" / "static" / "results"
CTX = {"charts": {"roc": "/roc.csv", "forest": "/forest.csv"}, "gtCaseUrl": "/studies/ground-truth/__code__/"}

SCRIPT = """
import { readFileSync } from "node:fs";
import { SECTIONS, modelText } from "%(render)s";
const report = JSON.parse(readFileSync(process.argv[2], "utf8"));
const ctx = JSON.parse(process.argv[3]);
const out = { model: modelText(report) };
for (const [name, build] of Object.entries(SECTIONS)) out[name] = build(report, ctx);
process.stdout.write(JSON.stringify(out));
"""


def _render(tmp_path, report: dict) -> dict:
    path = tmp_path / "report.json"
    path.write_text(json.dumps(report))
    script = tmp_path / "render.mjs"
    script.write_text(SCRIPT % {"render": (STATIC / "render.mjs").as_uri()})
    done = subprocess.run([NODE, str(script), str(path), json.dumps(CTX)], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture
def few(users):
    """One reader, four cases, one truth-positive: no ROC curve can be computed, yet every call can be plotted."""
    return build_crossover(users, readers=("reader1",), n_cases=4, truth=["positive", "negative", "negative",
                                                                           "negative"], with_masks=False)


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_operating_points_are_plotted_when_roc_cannot_be_computed(few, client_for, tmp_path):
    report = client_for("study_admin").get(f"/api/studies/{few.study.pk}/results/").json()
    assert report["roc"]["sessions"]["unaided"]["readers"]["reader1"]["not_computable"]
    html = _render(tmp_path, report)
    assert 'data-testid="roc-curve"' not in html["roc"]
    assert html["roc"].count('data-testid="roc-point"') == 2 * 2  # (reader + model) x two sessions
    assert 'data-rater="reader1"' in html["roc"] and 'data-rater="AI model"' in html["roc"]
    assert "no curve, needs at least 2 diseased" in html["roc"]
    assert "Operating points (the calls) are plotted all the same" in html["roc"]


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_intervals_only_where_defined_and_plain_labels(few, client_for, tmp_path):
    report = client_for("study_admin").get(f"/api/studies/{few.study.pk}/results/").json()
    html = _render(tmp_path, report)
    accuracy = html["accuracy"]
    assert "± –" not in accuracy and "± <span" not in accuracy
    assert "(n = 1, no SD)" in accuracy and "one rater: SD is undefined" in accuracy
    for degenerate in ("(0–0)", "(100–100)", "(0.00–0.00)"):
        assert degenerate not in accuracy
    assert "(3–100)" in accuracy  # a real Clopper-Pearson interval is still shown
    assert "(" not in html["model"] and html["model"].startswith("fake:1 ")


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_every_chart_offers_png_svg_and_csv(few, client_for, tmp_path):
    report = client_for("study_admin").get(f"/api/studies/{few.study.pk}/results/").json()
    html = _render(tmp_path, report)
    for chart in ("roc-chart-unaided", "roc-chart-aided"):
        for kind in ("png", "svg"):
            assert f'data-testid="download-{kind}-{chart}"' in html["roc"]
    assert 'data-testid="download-png-forest-plot"' in html["forest"]
    assert 'data-testid="download-svg-forest-plot"' in html["forest"]
    assert 'href="/roc.csv" download data-testid="download-csv-roc"' in html["roc"]
    assert 'href="/forest.csv" download data-testid="download-csv-forest"' in html["forest"]
    missing = _render(tmp_path, {**report, "completeness": {**report["completeness"],
                                                            "missing_truth": {"PC-X1": "no signed-off truth"}}})
    assert 'href="/studies/ground-truth/PC-X1/" data-testid="missing-truth-link"' in missing["completeness"]


def test_dashboard_page_links_chart_csv_exports(few, client_for):
    page = client_for("study_admin").get(f"/studies/{few.study.pk}/results/").content.decode()
    assert f'"roc": "/api/studies/{few.study.pk}/results/chart-roc.csv"' in page
    assert f'"forest": "/api/studies/{few.study.pk}/results/chart-forest.csv"' in page


def _csv(response) -> list[dict]:
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.content.decode())))


def test_roc_csv_has_operating_points_without_curves(few, client_for):
    admin = client_for("study_admin")
    rows = _csv(admin.get(f"/api/studies/{few.study.pk}/results/chart-roc.csv"))
    points = [r for r in rows if r["kind"] == "operating_point" and r["rater"] == "reader1"]
    assert [p["session"] for p in points] == ["unaided", "aided"]
    report = admin.get(f"/api/studies/{few.study.pk}/results/").json()
    for point in points:
        metrics = report["accuracy"]["sessions"][point["session"]]["readers"]["reader1"]
        assert float(point["tpr"]) == pytest.approx(metrics["sensitivity"]["value"])
        assert float(point["fpr"]) == pytest.approx(1 - metrics["specificity"]["value"])
    curves = [r for r in rows if r["kind"] == "curve"]
    assert curves and all(r["fpr"] == "" and "needs at least 2 diseased" in r["reason"] for r in curves)
    assert AuditEvent.objects.filter(action="study.export", detail__format="chart-roc.csv").exists()


def test_forest_csv_leaves_degenerate_intervals_blank(users, client_for):
    d = build_crossover(users, readers=("reader1",), n_cases=4, truth=["positive", "negative", "negative",
                                                                       "negative"], with_masks=False)
    rows = _csv(client_for("study_admin").get(f"/api/studies/{d.study.pk}/results/chart-forest.csv"))
    assert {(r["session"], r["rater"], r["metric"]) for r in rows} >= {("unaided", "reader1", "sensitivity"),
                                                                       ("", "AI model", "specificity")}
    for r in rows:
        if r["ci_low"]:
            assert float(r["ci_low"]) < float(r["ci_high"])
        else:
            assert r["reason"]


def test_chart_csv_neutralises_formula_cells(users, client_for, django_user_model):
    users["evil"] = make_user(django_user_model, "-evil", READER)
    d = build_crossover(users, readers=("-evil",), n_cases=4, truth=["positive", "negative", "negative",
                                                                     "negative"], with_masks=False)
    text = client_for("study_admin").get(f"/api/studies/{d.study.pk}/results/chart-roc.csv").content.decode()
    raters = {row["rater"] for row in csv.DictReader(io.StringIO(text))}
    assert "'-evil" in raters and "-evil" not in raters


def test_chart_csv_refuses_unknown_charts_and_other_roles(few, client_for):
    missing = client_for("study_admin").get(f"/api/studies/{few.study.pk}/results/chart-pie.csv")
    assert missing.status_code == 404 and "roc, forest" in missing.json()["detail"]
    for role in ("reader", "pathologist"):
        assert client_for(role).get(f"/api/studies/{few.study.pk}/results/chart-roc.csv").status_code == 403
