"""Every CSV export neutralises formula-looking text cells (OWASP), through the real export endpoints."""

from __future__ import annotations

import csv
import io

import pytest

from audit.services import audit_record
from petctweb.csv_safety import csv_writer, neutralise_cell

pytestmark = pytest.mark.django_db

FORMULA = '=HYPERLINK("http://x","y")'


def rows_of(response) -> list[list[str]]:
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(response.content.decode())))


def test_helper_rule():
    for dangerous in ("=1+1", "+1", "-cmd", "@SUM(A1)", "\tx", "\rx"):
        assert neutralise_cell(dangerous) == "'" + dangerous
    for safe in ("negative", "", "a=b", "'=already"):
        assert neutralise_cell(safe) == safe
    # Numbers stay numbers: -0.5 is a value for statistics software, not a formula.
    assert neutralise_cell(-0.5) == -0.5 and neutralise_cell(-3) == -3
    buffer = io.StringIO()
    csv_writer(buffer).writerows([["-1", -1, "=x"]])
    assert buffer.getvalue().strip() == "'-1,-1,'=x"


@pytest.fixture
def commented_read(users, study, case):
    from studies.services import read_submit

    return read_submit(user=users["reader"], case=case, status="negative", confidence=3, comment=FORMULA)


def test_study_reads_export_neutralises_the_comment(client_for, study, commented_read):
    rows = rows_of(client_for("study_admin").get(f"/api/studies/{study.pk}/reads/export/"))
    comment = rows[1][rows[0].index("comment")]
    assert comment == "'" + FORMULA


def test_results_reads_csv_neutralises_the_comment(client_for, study, commented_read):
    rows = rows_of(client_for("study_admin").get(f"/api/studies/{study.pk}/results/reads.csv"))
    comment = rows[1][rows[0].index("comment")]
    assert comment == "'" + FORMULA
    assert not any(cell.startswith(("=", "+", "@")) for row in rows for cell in row)


def test_results_statistics_csv_has_no_formula_cells(client_for, study, commented_read):
    rows = rows_of(client_for("study_admin").get(f"/api/studies/{study.pk}/results/statistics.csv"))
    assert not any(cell.startswith(("=", "+", "@", "\t", "\r")) for row in rows for cell in row)


def test_audit_export_neutralises_cells(client_for, users, case):
    audit_record(actor=users["reader"], action="case.view", object_type="case", object_id="=cmd|' /C calc'!A0",
                 case_code=case.code)
    rows = rows_of(client_for("study_admin").get("/api/studies/audit/export/"))
    ids = [row[rows[0].index("object_id")] for row in rows[1:]]
    assert "'=cmd|' /C calc'!A0" in ids
