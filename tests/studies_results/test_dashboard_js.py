"""The dashboard's render functions (frontend/static/results/*.mjs) draw real reports without errors (node)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from .conftest import build_crossover

pytestmark = pytest.mark.django_db
NODE = shutil.which("node")
STATIC = Path(__file__).resolve().parents[2] / "frontend" / "static" / "results"

SCRIPT = """
import { readFileSync } from "node:fs";
import { SECTIONS, modelText } from "%(render)s";
const report = JSON.parse(readFileSync(process.argv[2], "utf8"));
const out = { model: modelText(report) };
for (const [name, build] of Object.entries(SECTIONS)) out[name] = build(report);
process.stdout.write(JSON.stringify(out));
"""


def render(tmp_path, report: dict) -> dict:
    path = tmp_path / "report.json"
    path.write_text(json.dumps(report))
    script = tmp_path / "render.mjs"
    script.write_text(SCRIPT % {"render": (STATIC / "render.mjs").as_uri()})
    done = subprocess.run([NODE, str(script), str(path)], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_every_section_renders_a_complete_crossover(users, client_for, tmp_path):
    d = build_crossover(users, n_cases=6)
    report = client_for("study_admin").get(f"/api/studies/{d.study.pk}/results/").json()
    html = render(tmp_path, report)
    assert html["accuracy"].count('data-testid="accuracy-row"') == 1 + 3 * 2  # model + readers x sessions
    assert 'data-rater="AI model"' in html["accuracy"]
    for session in ("unaided", "aided"):
        assert f'data-testid="roc-chart-{session}"' in html["roc"]
        assert f'data-testid="kappa-matrix-{session}"' in html["agreement"]
        assert f'data-testid="model-vs-readers-{session}"' in html["comparisons"]
    assert html["roc"].count('data-testid="roc-point"') == 2 * (3 + 1)
    assert html["forest"].count('data-testid="forest-point"') == 2 * (1 + 3 * 2)
    assert 'data-testid="mrmc-summary"' in html["comparisons"] and 'data-testid="mrmc-p"' in html["comparisons"]
    assert 'data-testid="segmentation-table"' in html["segmentation"]
    assert 'data-testid="per-face-table"' in html["per-face"]
    assert "fake:1" in html["model"]


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_not_computable_values_render_with_their_reasons(users, client_for, tmp_path):
    d = build_crossover(users, readers=("reader1",), n_cases=4, truth=["negative"] * 4, with_masks=False)
    report = client_for("study_admin").get(f"/api/studies/{d.study.pk}/results/").json()
    html = render(tmp_path, report)
    assert "no truth-positive cases: sensitivity is undefined" in html["accuracy"]
    assert "not computable" in html["comparisons"]
    assert html["not-computable"].count('data-testid="not-computable-item"') == len(report["not_computable"])
    assert "Fleiss' kappa needs at least two raters" in html["agreement"] or "two readers" in html["agreement"]
