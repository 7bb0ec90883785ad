"""Database queries per request on the readers' hot endpoints stay bounded and do not grow with the study.

Query counts are deterministic where timings are not: a regression here (a lost select_related, an
access-policy check repeated per call) shows up as a failing bound long before it shows in a load test.
The bounds are today's counts; each names what the queries are for.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.studies_app.conftest import call_body, make_case, mask_body

pytestmark = pytest.mark.django_db

# session, user, roles (once per request), the visible case, the reader's context (studies holding the
# case, own reads, sessions, next assignment), then the endpoint's own work.
BOUNDS = {
    "worklist": 8,  # + study, sessions, first reads, assignments, called set
    "case detail": 13,  # + audit row, volume kinds, own mask, orientation
    "volume": 5,  # + the volume row
    "draft get": 5,  # + the draft lookup
    "draft autosave": 17,  # + replace the draft row (delete cascade checks) in a savepoint
    "save mask": 19,  # + version, insert, drop the draft, audit row
    "submit call": 22,  # + the locked context again, assignment, insert, session completion, audit row
}


def _count(call) -> tuple[int, object]:
    with CaptureQueriesContext(connection) as queries:
        response = call()
    return len(queries.captured_queries), response


def _study(client_for, n_cases: int) -> tuple[int, list]:
    cases = [make_case() for _ in range(n_cases)]
    created = client_for("study_admin").post("/api/studies/", {
        "name": f"perf {n_cases}", "design": "unaided", "cases": [c.code for c in cases],
        "readers": ["reader1", "reader2"], "seed": 3}, format="json")
    assert created.status_code == 201, created.content
    return created.json()["id"], cases


def _read_one_case(reader, study_id: int) -> dict[str, int]:
    """A reader's whole flow on the next case of the worklist; the number of queries of each step."""
    counts = {}
    reader.get(f"/api/studies/{study_id}/worklist/")  # the first request of a session also refreshes it
    counts["worklist"], listed = _count(lambda: reader.get(f"/api/studies/{study_id}/worklist/"))
    code = listed.json()["next_case"]
    reader.get(f"/studies/{study_id}/read/{code}/")  # records the opening, as the worklist link does
    steps = {
        "case detail": lambda: reader.get(f"/api/cases/{code}/"),
        "volume": lambda: reader.get(f"/api/cases/{code}/volumes/ct/"),
        "draft get": lambda: reader.get(f"/api/cases/{code}/segmentations/draft/"),
    }
    for name, call in steps.items():
        counts[name], response = _count(call)
        assert response.status_code in (200, 204), (name, response.status_code)
    from cases.models import Case

    body = mask_body(Case.objects.get(code=code))
    reader.put(f"/api/cases/{code}/segmentations/draft/", body, format="json")  # the first autosave creates it
    counts["draft autosave"], response = _count(
        lambda: reader.put(f"/api/cases/{code}/segmentations/draft/", body, format="json"))
    assert response.status_code == 200
    counts["save mask"], saved = _count(lambda: reader.post(f"/api/cases/{code}/segmentations/", body, format="json"))
    assert saved.status_code == 201
    counts["submit call"], submitted = _count(lambda: reader.post(
        f"/api/cases/{code}/reads/", call_body("negative", segmentation_id=saved.json()["id"]), format="json"))
    assert submitted.status_code == 201, submitted.content
    return counts


def test_hot_endpoints_stay_within_their_query_bounds(client_for, users):
    study_id, _ = _study(client_for, 3)
    counts = _read_one_case(client_for("reader"), study_id)
    over = {name: (counts[name], bound) for name, bound in BOUNDS.items() if counts[name] > bound}
    assert not over, f"queries (made, allowed): {over}"


def test_query_counts_do_not_grow_with_the_study(client_for, users):
    small_id, _ = _study(client_for, 2)
    small = _read_one_case(client_for("reader"), small_id)
    large_id, _ = _study(client_for, 7)
    large = _read_one_case(client_for("reader2"), large_id)
    assert large == small
