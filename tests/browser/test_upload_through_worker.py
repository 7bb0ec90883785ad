"""The upload page as a study administrator uses it, with real Celery worker processes doing the ingest
and the inference: progress to the end, a dropped connection resumed from the server's offset, the live
state from receipt to result in the upload page and the case page, and a bad file that fails cleanly.

Workers start only when the page has shown the state before their step (ingest worker once the upload
is "received", inference worker once the case is "queued"), so those states are seen on any machine;
the fast stages in between are checked for order, not for presence.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from kombu import Connection

import cases.upload_sessions
from benchmarks.processes import log_tails, stop_process
from benchmarks.processes import start_worker as start_process_worker
from cases.models import Case, CaseVolume, UploadSession
from inference.models import InferenceRun, MarginResult
from inference.registry import model_version_register
from petctweb.celery import app as celery_app
from petctweb.roles import STUDY_ADMIN
from tests.app.test_worker import _database_url
from tests.browser.conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

REPO = Path(__file__).resolve().parents[2]
DEMO_MODEL = REPO / "demo_model"
# The order a case's live state takes from receipt to result (portal/ingest_state.py).
STAGES = ("received", "checking", "de-identifying", "resampling", "queued", "segmenting", "done")
MARGIN_LABELS = {"positive": "Positive", "negative": "Negative", "indeterminate": "Indeterminate",
                 "no_tumour_detected": "No tumour detected"}
WORKER_WAIT_MS = 240_000  # a worker's start, ingest and inference on two busy cores

# Every state the upload page's state line shows, in order, as the user saw it (not as polled by the test).
RECORD_STATES = """() => {
  window.seenStates = [];
  const line = document.getElementById("upload-state");
  new MutationObserver(() => {
    const state = line.dataset.state;
    if (state && state !== window.seenStates.at(-1)) window.seenStates.push(state);
  }).observe(line, { attributes: true, attributeFilter: ["data-state"] });
}"""


@pytest.fixture
def upload_storage(settings, tmp_path):
    settings.PETCTWEB_UPLOAD_DIR = tmp_path / "uploads"
    return settings.PETCTWEB_UPLOAD_DIR


@pytest.fixture
def private_broker(settings, tmp_path, monkeypatch):
    """This test's own broker folder, so a worker of another test session on this machine takes none of
    its messages (and it none of theirs). The live server enqueues the ingest there; workers get it by
    PETCTWEB_BROKER_DIR. With Redis (CI) the shared broker is used as configured."""
    if not settings.CELERY_BROKER_URL.startswith("filesystem"):
        return None
    folder = tmp_path / "broker"
    options = {**settings.CELERY_BROKER_TRANSPORT_OPTIONS, "data_folder_in": str(folder / "queue"),
               "data_folder_out": str(folder / "queue"), "processed_folder": str(folder / "processed"),
               "control_folder": str(folder / "control")}
    for key in ("data_folder_in", "processed_folder", "control_folder"):
        Path(options[key]).mkdir(parents=True, exist_ok=True)

    def enqueue(session_id: int) -> None:
        # What cases.upload_sessions._enqueue sends, through a connection to this folder.
        with Connection(settings.CELERY_BROKER_URL, transport_options=options) as broker:
            celery_app.send_task(cases.upload_sessions.INGEST_TASK, args=[session_id], connection=broker)

    monkeypatch.setattr(cases.upload_sessions, "_enqueue", enqueue)
    return folder


@pytest.fixture
def start_worker(settings, tmp_path, upload_storage, private_broker):
    """Starts a real Celery worker process on the given queues; all are stopped after the test."""
    started: list[tuple[subprocess.Popen, Path]] = []

    def start(queues: str) -> subprocess.Popen:
        env = dict(os.environ)
        env.update({
            "DATABASE_URL": _database_url(),
            "MEDIA_ROOT": str(settings.MEDIA_ROOT),
            "PETCTWEB_MODEL_ROOT": str(settings.PETCTWEB_MODEL_ROOT),
            "PETCTWEB_UPLOAD_DIR": str(upload_storage),
            "PETCTWEB_DEID_SECRET": settings.PETCTWEB_DEID_SECRET,
            "PETCTWEB_AUTO_INFERENCE": "1",
            **({"PETCTWEB_BROKER_DIR": str(private_broker)} if private_broker else {}),
        })
        log = tmp_path / f"worker-{queues.replace(',', '-')}.log"
        process = start_process_worker(log=log, name=f"upload-{queues}", env=env, queues=queues)
        started.append((process, log))
        return process

    start.logs = lambda: log_tails([log for _, log in started])
    yield start
    # All asked to stop at once: a worker's warm shutdown takes seconds, they need not take turns.
    for process, _ in started:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
    for process, _ in started:
        stop_process(process)


@pytest.fixture
def study_admin(django_user_model):
    user = django_user_model.objects.create_user(username="upload_admin", password="upload_admin-pass-1")
    user.groups.add(Group.objects.get_or_create(name=STUDY_ADMIN)[0])
    return user


def _wait_for_state(page, state: str, start_worker, timeout: float = WORKER_WAIT_MS) -> None:
    try:
        page.wait_for_function("(state) => document.getElementById('upload-state').dataset.state === state",
                               arg=state, timeout=timeout, polling=200)
    except Exception:
        seen = page.evaluate("window.seenStates")
        status = page.get_by_test_id("upload-status").inner_text()
        pytest.fail(f"the upload page never showed {state!r}; it showed {seen} ({status!r});\n"
                    f"worker logs:\n{start_worker.logs()}")


def _in_stage_order(states: list[str]) -> bool:
    positions = [STAGES.index(state) for state in states]
    return positions == sorted(positions)


def test_an_upload_through_real_workers_resumes_after_a_dropped_connection_and_reaches_its_margin(
        page, live_server, study_admin, start_worker, one_case_dir, settings, upload_storage, shot):
    model_version_register(source_dir=DEMO_MODEL, name="demo", version="upload-browser", make_default=True)
    files = sorted(one_case_dir.glob("ct/*.dcm")) + sorted(one_case_dir.glob("pet/*.dcm"))
    total = sum(path.stat().st_size for path in files)
    settings.PETCTWEB_UPLOAD_CHUNK_BYTES = total // 6 + 1  # about six chunks

    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"upload page: {error}"))
    patches: list[int] = []  # Upload-Offset of every chunk request, in order
    heads_after_drop: list[str] = []
    dropped: dict = {}
    lost_polls: list[str] = []

    def drop_connections(route, request):
        if request.method == "PATCH":
            patches.append(int(request.headers["upload-offset"]))
            if len(patches) == 2 and not dropped:
                # The server stores the chunk, then the connection breaks before its answer arrives:
                # the page must ask where to go on rather than send these bytes (or all of them) again.
                answer = route.fetch()
                dropped.update(sent_from=patches[-1], status=answer.status, server_offset=answer.json()["offset"])
                route.abort("connectionreset")
                return
        elif request.method == "HEAD" and dropped:
            heads_after_drop.append(request.url)
        elif request.method == "GET" and not lost_polls:
            # The first look at the import's state is lost too: the page keeps following, the import goes on.
            lost_polls.append(request.url)
            route.abort("connectionreset")
            return
        route.continue_()

    lost_completes: list[str] = []

    def drop_the_first_complete(route, request):
        if not lost_completes:
            lost_completes.append(request.url)
            route.abort("connectionreset")
            return
        route.continue_()

    page.route("**/api/uploads/*/", drop_connections)
    page.route("**/api/uploads/*/complete/", drop_the_first_complete)
    login(page, live_server, "upload_admin", "upload_admin-pass-1")
    page.goto(f"{live_server.url}/upload/")
    page.evaluate(RECORD_STATES)
    page.evaluate("""() => {
      window.progressSeen = [];
      const bar = document.getElementById("upload-progress");
      new MutationObserver(() => window.progressSeen.push(bar.value))
        .observe(bar, { attributes: true, attributeFilter: ["value"] });
    }""")
    page.set_input_files("#file-input", [str(path) for path in files])

    # No worker yet: all bytes are here and the ingest waits in the queue.
    _wait_for_state(page, "received", start_worker, timeout=120_000)
    progress = page.evaluate("window.progressSeen")
    assert page.get_by_test_id("upload-progress").evaluate("bar => bar.value") == 100
    assert any(0 < value < 100 for value in progress) and progress[-1] == 100, progress
    assert progress == sorted(progress), f"the bar went backwards: {progress}"
    assert dropped and dropped["status"] == 200 and dropped["server_offset"] > dropped["sent_from"], dropped
    assert heads_after_drop, "after the drop the page did not ask the server for its offset"
    assert lost_polls and lost_completes, "no look at the state or no request to import was lost"
    after_drop = patches[patches.index(dropped["sent_from"]) + 1]
    assert after_drop == dropped["server_offset"], f"resumed at {after_drop}, server had {dropped['server_offset']}"
    assert patches == sorted(set(patches)) and patches[0] == 0, f"a chunk was sent twice or it restarted: {patches}"
    session = UploadSession.objects.get()
    assert session.received_bytes == session.total_bytes == total
    assert page.get_by_test_id("upload-state").inner_text() == "received: all files received; queued for ingest"
    shot(page, "upload-worker-received")

    # The ingest worker imports the study; inference waits for its own (gpu queue) worker.
    start_worker("default")
    _wait_for_state(page, "queued", start_worker)
    link = page.get_by_test_id("uploaded-case")
    code = Case.objects.get().code
    assert link.inner_text() == code
    assert not Path(session.folder).exists(), "the uploaded files were kept after the import"

    # The case page, opened while the case waits, follows it to its result without a reload.
    case_page = page.context.new_page()
    case_page.on("pageerror", lambda error: problems.append(f"case page: {error}"))
    case_page.goto(f"{live_server.url}{link.get_attribute('href')}")
    case_state = case_page.get_by_test_id("case-state")
    assert case_state.get_attribute("data-state") == "queued"

    start_worker("gpu")
    _wait_for_state(page, "done", start_worker)
    seen = page.evaluate("window.seenStates")
    assert seen[0] == "received" and seen[-1] == "done" and "queued" in seen, seen
    assert set(seen) <= set(STAGES) and _in_stage_order(seen), f"the live state left its path: {seen}"
    assert page.get_by_test_id("upload-status").inner_text() == "Imported 1 case(s)."
    shot(page, "upload-worker-done")

    run = InferenceRun.objects.get(case__code=code)
    assert run.status == "done", run.message
    margin = MarginResult.objects.get(segmentation__inference_run=run)
    case_page.wait_for_function("() => document.querySelector('[data-testid=case-state]').dataset.state === 'done'",
                                timeout=60_000)
    case_page.get_by_test_id("tab-margin").click()
    summary = case_page.get_by_test_id("margin-summary")
    summary.get_by_test_id("margin-status").filter(has_text=MARGIN_LABELS[margin.status]).wait_for(timeout=60_000)
    if margin.closest_margin_mm is not None:
        mm = margin.closest_margin_mm  # as the viewer writes millimetres (ruler.mjs formatMm)
        assert summary.get_by_test_id("margin-distance").inner_text().startswith(f"{mm:.2f}" if mm < 10 else f"{mm:.1f}")
    shot(case_page, "upload-worker-case-result")

    # The case list shows the same state.
    page.goto(f"{live_server.url}/")
    row = page.get_by_test_id("case-table").locator("tr", has=page.locator(f"a[href='/cases/{code}/']"))
    assert row.get_by_test_id("case-state").get_attribute("data-state") == "done"
    assert not problems, problems


def test_a_file_that_is_not_dicom_fails_in_the_page_with_its_reason_and_leaves_nothing(
        page, live_server, study_admin, start_worker, settings, upload_storage, tmp_path, shot):
    notes = tmp_path / "specimen-notes.txt"
    notes.write_text("Specimen 4: inked margins, received in formalin.\n")
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    start_worker("default")
    login(page, live_server, "upload_admin", "upload_admin-pass-1")
    page.goto(f"{live_server.url}/upload/")
    page.evaluate(RECORD_STATES)
    page.set_input_files("#file-input", [str(notes)])

    _wait_for_state(page, "failed", start_worker)
    state_line = page.get_by_test_id("upload-state").inner_text()
    assert state_line == "failed: 'specimen-notes.txt' is not a DICOM file (no DICM header).", state_line
    assert page.get_by_test_id("upload-status").inner_text() == f"Import failed: {state_line[len('failed: '):]}"
    assert page.get_by_test_id("upload-status").get_attribute("class") == "status error"
    assert page.get_by_test_id("upload-state").get_attribute("class") == "status error"
    assert page.get_by_test_id("uploaded-case").count() == 0
    seen = page.evaluate("window.seenStates")
    assert seen[-1] == "failed" and "done" not in seen, seen
    shot(page, "upload-worker-failed")

    session = UploadSession.objects.get()
    assert session.state == UploadSession.State.FAILED and session.case is None
    assert not Case.objects.exists() and not CaseVolume.objects.exists()
    media = Path(settings.MEDIA_ROOT)
    assert not media.exists() or not any(path.is_file() for path in media.rglob("*")), list(media.rglob("*"))
    assert not any(upload_storage.iterdir()), list(upload_storage.iterdir())

    # The case list names the failed upload and its reason among what arrived.
    page.goto(f"{live_server.url}/")
    ingest = page.get_by_test_id("ingest").first
    ingest.wait_for()
    assert ingest.locator(".pill").get_attribute("data-state") == "failed"
    assert "is not a DICOM file" in ingest.inner_text()
    assert not problems, problems
