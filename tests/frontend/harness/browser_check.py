"""End-to-end check of the viewer against the fake API harness, in headless Chromium.

    .venv/bin/python tests/frontend/harness/browser_check.py [--shape 96,256,256] [--out DIR] [--quick]

Starts tests/frontend/harness/server.mjs on a free port, drives the page through the
stable data-testid hooks and window.petctViewer, prints a JSON summary (checks, timings,
render benchmark) and writes screenshots to --out. Exit status 1 if a check failed.
Needs Chromium at /usr/bin/chromium (apt-get install chromium) and Playwright.
Not collected by pytest (file name), because it needs a browser.
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

ROOT = Path(__file__).resolve().parents[3]
CHROMIUM = "/usr/bin/chromium"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(port: int, shape: str, spacing: str) -> subprocess.Popen:
    proc = subprocess.Popen(
        ["node", str(ROOT / "tests/frontend/harness/server.mjs"), "--port", str(port), "--shape", shape, "--spacing", spacing],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.time() + 180
    while time.time() < deadline:
        line = proc.stdout.readline()
        if "harness on" in line:
            return proc
        if proc.poll() is not None:
            raise RuntimeError("harness server exited")
    raise RuntimeError("harness server did not start")


class Checks:
    def __init__(self) -> None:
        self.results: list[dict] = []

    def check(self, name: str, ok: bool, detail: object = None) -> None:
        self.results.append({"name": name, "ok": bool(ok), "detail": detail})
        print(("PASS " if ok else "FAIL ") + name + ("" if detail is None else f"  {detail}"), flush=True)

    @property
    def failed(self) -> list[dict]:
        return [r for r in self.results if not r["ok"]]


def store(base: str) -> dict:
    with urllib.request.urlopen(f"{base}/__store") as r:
        return json.load(r)


def reset(base: str) -> None:
    urllib.request.urlopen(urllib.request.Request(f"{base}/__reset", method="POST", data=b""))


def open_case(page: Page, url: str) -> dict:
    page.goto(url)
    page.wait_for_function("window.petctViewer && window.petctViewer.timings.readyMs !== null", timeout=120_000)
    return page.evaluate("window.petctViewer.timings")


def state(page: Page) -> dict:
    return page.evaluate("window.petctViewer.state")


def point(page: Page, view: str, kji: list[int]) -> tuple[float, float]:
    p = page.evaluate("([v, kji]) => window.petctViewer.voxelToClient(v, kji)", [view, kji])
    return p["x"], p["y"]


def count(page: Page) -> int:
    return page.evaluate("window.petctViewer.getMaskVoxelCount()")


def run(args: argparse.Namespace) -> int:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    port = free_port()
    server = start_server(port, args.shape, args.spacing)
    base = f"http://127.0.0.1:{port}"
    url = f"{base}/cases/DEMO/"
    c = Checks()
    summary: dict = {"shape": args.shape}
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--headless", "--disable-gpu"])
            page = browser.new_page(viewport={"width": 1680, "height": 1000})
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            # 404 (no draft yet) and 409 (call already submitted) are part of the contract.
            expected = ("status of 404", "status of 409")
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" and not any(e in m.text for e in expected) else None)

            timings = open_case(page, url)
            summary["timings"] = timings
            page.wait_for_timeout(300)
            page.screenshot(path=str(out / "01-open.png"))
            st = state(page)
            shape = [int(x) for x in args.shape.split(",")]
            c.check("opens at the centre slice", st["slices"]["axial"] == shape[0] // 2, st["slices"])
            for tid in ["canvas-axial", "canvas-coronal", "canvas-sagittal", "slider-axial", "tool-brush", "brush-radius",
                        "save-mask", "undo", "redo", "wl-window", "wl-level", "call-positive", "confidence-3", "submit-call", "status"]:
                c.check(f"testid {tid} present", page.get_by_test_id(tid).count() == 1)
            bench = page.evaluate("window.petctViewer.benchmarkRender(40)")
            summary["benchmark_ms_axial"] = round(bench, 2)
            c.check("axial render < 16 ms", bench < 16, round(bench, 2))
            if args.quick:
                browser.close()
                return finish(c, summary, errors)

            # --- navigation
            k = st["slices"]["axial"]
            x, y = point(page, "axial", [k, shape[1] // 3, shape[2] // 4])
            page.keyboard.down("Shift")
            page.mouse.click(x, y)
            page.keyboard.up("Shift")
            st = state(page)
            c.check("Shift+click sets the crosshair in all views", st["cursor"] == [k, shape[1] // 3, shape[2] // 4], st["cursor"])
            page.keyboard.press("ArrowUp")
            c.check("ArrowUp moves one slice", state(page)["slices"]["axial"] == k + 1)
            page.keyboard.press("PageDown")
            c.check("PageDown moves ten slices", state(page)["slices"]["axial"] == k - 9)
            page.mouse.move(x, y)
            page.mouse.wheel(0, 100)
            page.wait_for_timeout(50)
            c.check("wheel scrolls", state(page)["slices"]["axial"] == k - 10, state(page)["slices"]["axial"])
            page.get_by_test_id("slider-coronal").evaluate("(el) => { el.value = '40'; el.dispatchEvent(new Event('input', {bubbles: true})); }")
            c.check("slider sets the coronal slice", state(page)["slices"]["coronal"] == 40)
            page.keyboard.down("Control")
            page.mouse.wheel(0, -300)
            page.keyboard.up("Control")
            page.wait_for_timeout(50)
            c.check("ctrl+wheel zooms", state(page)["zoom"]["axial"] > 1.2, state(page)["zoom"])
            pan0 = state(page)["pan"]["axial"]
            def delta():
                return [round(a - b, 6) for a, b in zip(state(page)["pan"]["axial"], pan0, strict=True)]

            page.mouse.move(x, y)
            page.mouse.down(button="middle")
            page.mouse.move(x + 30, y + 10, steps=3)
            page.mouse.up(button="middle")
            c.check("middle-drag pans (OHIF / Slicer)", delta() == [30, 10], delta())
            page.get_by_test_id("tool-navigate").click()
            page.mouse.move(x, y)
            page.keyboard.down(" ")
            page.mouse.down()
            page.mouse.move(x + 50, y + 10, steps=3)
            page.mouse.up()
            page.keyboard.up(" ")
            c.check("space+drag pans (after clicking a tool button)", delta() == [80, 20], delta())
            page.keyboard.press("r")
            c.check("R resets zoom and pan", state(page)["zoom"]["axial"] == 1 and state(page)["pan"]["axial"] == [0, 0])
            page.get_by_test_id("tab-help").click()
            c.check("help panel visible", page.get_by_test_id("help-panel").is_visible() and "Ctrl + Z" in page.get_by_test_id("help-panel").inner_text())

            # --- window / level
            page.get_by_test_id("wl-window").fill("350")
            page.get_by_test_id("wl-level").fill("20")
            st = state(page)
            c.check("typed window/level", (st["window"], st["level"]) == (350, 20), (st["window"], st["level"]))
            page.keyboard.press("Escape")
            page.get_by_test_id("preset-fat").click()
            st = state(page)
            c.check("fat preset", st["preset"] == "fat", (st["window"], st["level"]))
            page.get_by_test_id("tool-wl").click()
            page.mouse.move(x, y)
            page.mouse.down()
            page.mouse.move(x + 60, y + 20, steps=4)
            page.mouse.up()
            st2 = state(page)
            c.check("left drag changes window/level (OHIF / Slicer)", st2["window"] > st["window"] and st2["level"] > st["level"], (st2["window"], st2["level"]))
            page.get_by_test_id("mode-pet").click()
            page.wait_for_timeout(100)
            page.screenshot(path=str(out / "02-pet-only.png"))
            page.get_by_test_id("mode-fused").click()
            page.keyboard.press("1")

            # --- editing
            st = state(page)
            k = st["slices"]["axial"]
            page.get_by_test_id("tool-brush").click()
            page.get_by_test_id("brush-radius").fill("1.5")
            c.check("brush radius typed", abs(state(page)["brushRadiusMm"] - 1.5) < 1e-9)
            a = point(page, "axial", [k, shape[1] // 2, shape[2] // 3])
            b = point(page, "axial", [k, shape[1] // 2 + 30, shape[2] // 3 + 40])
            page.mouse.move(*a)
            page.mouse.down()
            page.mouse.move(*b, steps=8)
            page.mouse.up()
            n_brush = count(page)
            in_slice = page.evaluate(
                "(k) => { const v = window.petctViewer.viewer; const n = v.shape[1] * v.shape[2]; let s = 0; for (let i = k * n; i < (k + 1) * n; i++) s += v.mask[i]; return s; }", k
            )
            c.check("brush stroke paints the current axial slice only", n_brush > 100 and in_slice == n_brush, (n_brush, in_slice))
            page.keyboard.press("Control+z")
            c.check("ctrl+z undoes the stroke", count(page) == 0)
            page.keyboard.press("Control+y")
            c.check("ctrl+y redoes it", count(page) == n_brush)
            page.keyboard.press("Control+z")
            page.keyboard.press("Control+Shift+z")
            c.check("ctrl+shift+z redoes it", count(page) == n_brush)
            page.get_by_test_id("tool-eraser").click()
            page.mouse.move(*a)
            page.mouse.down()
            page.mouse.up()
            n_erased = count(page)
            c.check("eraser removes voxels", 0 < n_erased < n_brush, (n_brush, n_erased))
            page.get_by_test_id("undo").click()
            c.check("undo button", count(page) == n_brush)

            # PET brush over the tumour at the closest-margin point
            page.get_by_test_id("tab-margin").click()
            page.get_by_test_id("jump-margin").click()
            st = state(page)
            kk, jj, ii = st["cursor"]
            c.check("jump to closest margin moves the cursor", st["cursor"] == summary_margin(base)["closest_point"]["tumour_kji"], st["cursor"])
            page.get_by_test_id("tool-petbrush").click()
            page.get_by_test_id("pet-threshold").fill("5")
            page.mouse.move(*point(page, "axial", [kk, jj, ii]))
            page.mouse.down()
            page.mouse.up()
            low = page.evaluate(
                """() => { const v = window.petctViewer.viewer; const d = v.history.undoStack[v.history.undoStack.length - 1];
                   let bad = 0; for (let m = 0; m < d.length; m++) if (v.volumes.pet[d.indices[m]] * v.suvFactor < 5) bad++; return [d.length, bad, d.label]; }"""
            )
            c.check("PET brush paints only SUV >= threshold", low[0] > 0 and low[1] == 0 and low[2] == "petbrush", low)
            page.screenshot(path=str(out / "03-margin-jump-petbrush.png"))

            # polygon
            page.get_by_test_id("tool-polygon").click()
            k = state(page)["slices"]["axial"]
            corners = [[k, 20, 20], [k, 20, 60], [k, 50, 60], [k, 50, 20]]
            before = count(page)
            for kji in corners:
                page.mouse.click(*point(page, "axial", kji))
            page.keyboard.press("Enter")
            added = count(page) - before
            c.check("polygon fill (Enter) fills the rectangle", 1100 <= added <= 1300, added)
            page.keyboard.press("Control+z")
            for kji in corners[:-1]:
                page.mouse.click(*point(page, "axial", kji))
            page.mouse.dblclick(*point(page, "axial", corners[-1]))
            c.check("polygon fill (double-click)", 1100 <= count(page) - before <= 1300, count(page) - before)
            page.get_by_test_id("clear-slice").click()
            in_slice = page.evaluate(
                "(k) => { const v = window.petctViewer.viewer; const n = v.shape[1] * v.shape[2]; let s = 0; for (let i = k * n; i < (k + 1) * n; i++) s += v.mask[i]; return s; }", k
            )
            c.check("clear slice", in_slice == 0)

            # ruler
            page.get_by_test_id("tool-ruler").click()
            p0 = point(page, "axial", [k, 10, 10])
            p1 = point(page, "axial", [k, 10, 50])
            page.mouse.move(*p0)
            page.mouse.down()
            page.mouse.move(*p1, steps=5)
            page.mouse.up()
            rulers = state(page)["rulers"]
            spacing = [float(s) for s in args.spacing.split(",")]
            c.check("ruler measures in mm", len(rulers) == 1 and abs(rulers[0]["mm"] - 40 * spacing[2]) < 0.05, rulers)

            # start from model, save, save again
            page.get_by_test_id("from-model").click()
            model_count = page.evaluate("(() => { let s = 0; for (const v of window.petctViewer.viewer.volumes.model) s += v; return s; })()")
            c.check("start from model copies the model mask", count(page) == model_count, (count(page), model_count))
            page.get_by_test_id("save-mask").click()
            page.wait_for_function("window.petctViewer.state.segmentation !== null")
            s = store(base)
            c.check("save posts version 1 (parent null)", len(s["segmentations"]) == 1 and s["segmentations"][0]["parent_id"] is None and s["segmentations"][0]["voxels"] == model_count, s["segmentations"])
            c.check("status says saved", "version 1" in page.get_by_test_id("status").inner_text())
            page.get_by_test_id("tool-brush").click()
            page.mouse.move(*a)
            page.mouse.down()
            page.mouse.up()
            c.check("edit marks dirty", state(page)["dirty"])
            page.keyboard.press("Control+s")
            page.wait_for_function("window.petctViewer.state.segmentation && window.petctViewer.state.segmentation.version === 2")
            s = store(base)
            c.check("second save has the first as parent", s["segmentations"][1]["parent_id"] == s["segmentations"][0]["id"], s["segmentations"])

            # draft on pagehide, restore on reload
            page.mouse.move(*b)
            page.mouse.down()
            page.mouse.up()
            checksum = page.evaluate("window.petctViewer.getMaskChecksum()")
            page.evaluate("window.dispatchEvent(new Event('pagehide'))")
            page.wait_for_timeout(500)
            s = store(base)
            c.check("pagehide stores a draft on the current version", s["draft"] and s["draft"]["parent_id"] == s["segmentations"][1]["id"], s["draft"])
            page.screenshot(path=str(out / "04-edited.png"))
            open_case(page, url)
            page.wait_for_timeout(200)
            c.check("draft restored on reopen", page.evaluate("window.petctViewer.getMaskChecksum()") == checksum and state(page)["dirty"])
            c.check("restore notice shown", "draft" in page.get_by_test_id("status").inner_text().lower(), page.get_by_test_id("status").inner_text())
            c.check("discard-draft visible", page.get_by_test_id("discard-draft").is_visible())
            page.get_by_test_id("discard-draft").click()
            page.wait_for_timeout(300)
            c.check("discard returns to the saved version", not state(page)["dirty"] and count(page) == s["segmentations"][1].get("voxels", count(page)))

            # margin call
            page.get_by_test_id("tab-call").click()
            page.get_by_test_id("call-positive").check()
            page.get_by_test_id("confidence-4").check()
            page.get_by_test_id("face-calls").locator("summary").click()
            page.get_by_test_id("face-+x").select_option("close")
            page.get_by_test_id("call-comment").fill("tumour reaches the lateral face")
            page.keyboard.press("Escape")
            page.get_by_test_id("submit-call").click()
            page.wait_for_function("document.querySelector('[data-testid=call-message]').dataset.kind === 'success'")
            s = store(base)
            read = s["reads"][0] if s["reads"] else {}
            c.check("call submitted with fields", read.get("status") == "positive" and read.get("confidence") == 4 and read.get("face_calls") == {"+x": "close"}
                    and read.get("time_spent_s", 0) > 0 and read.get("segmentation_id") == s["segmentations"][-1]["id"], read)
            page.get_by_test_id("call-negative").check()
            page.get_by_test_id("submit-call").click()
            page.wait_for_function("document.querySelector('[data-testid=call-message]').textContent.includes('negative')")
            c.check("second submit amends", len(store(base)["reads"][0]["amendments"]) == 1)
            page.screenshot(path=str(out / "05-call.png"))
            open_case(page, url)
            page.get_by_test_id("call-close").check()
            page.get_by_test_id("confidence-2").check()
            page.get_by_test_id("submit-call").click()
            page.wait_for_function("document.querySelector('[data-testid=call-message]').dataset.kind === 'error'")
            msg = page.get_by_test_id("call-message").inner_text()
            c.check("409 shows a clear message", "already" in msg.lower(), msg)
            page.get_by_test_id("submit-call").click()
            page.wait_for_function("document.querySelector('[data-testid=call-message]').dataset.kind === 'success'")
            c.check("after 409, submit again amends", len(store(base)["reads"][0]["amendments"]) == 2)
            page.get_by_test_id("call-positive").evaluate("(el) => { el.checked = false; }")
            for el in ["call-positive", "call-close", "call-negative"]:
                page.get_by_test_id(el).evaluate("(el) => { el.checked = false; }")
            page.get_by_test_id("submit-call").click()
            c.check("incomplete call is refused client-side", "margin status" in page.get_by_test_id("call-message").inner_text())

            # permissions and SUV availability
            open_case(page, f"{url}?model=0&call=0&suv=0&gt=1")
            page.wait_for_timeout(200)
            st = state(page)
            c.check("model hidden without permission", not st["overlays"]["model"]["available"] and page.get_by_test_id("from-model").count() == 0 and page.get_by_test_id("margin-summary").count() == 0)
            c.check("call form hidden when not allowed", page.get_by_test_id("call-form").count() == 0)
            c.check("Bq/ml without SUV factor", st["pet"]["units"] == "Bq/ml" and page.get_by_test_id("suv-unavailable").is_visible())
            c.check("ground truth shown when allowed", st["overlays"]["gt"]["available"])
            page.screenshot(path=str(out / "06-no-model-bqml.png"))
            page.locator(".pv-side--left").evaluate("(el) => el.scrollTo(0, el.scrollHeight)")
            page.screenshot(path=str(out / "07-left-panel-scrolled.png"))
            browser.close()
    finally:
        server.terminate()
        server.wait()
    return finish(c, summary, errors)


def summary_margin(base: str) -> dict:
    with urllib.request.urlopen(f"{base}/api/cases/DEMO/") as r:
        return json.load(r)["margin"]


def finish(c: Checks, summary: dict, errors: list[str]) -> int:
    c.check("no page errors", not errors, errors[:5])
    summary["passed"] = len(c.results) - len(c.failed)
    summary["failed"] = [f["name"] for f in c.failed]
    print(json.dumps(summary, indent=2))
    return 1 if c.failed else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--shape", default="96,256,256")
    parser.add_argument("--spacing", default="0.5,0.25,0.25")
    parser.add_argument("--out", default="/tmp/petct-viewer-shots")
    parser.add_argument("--quick", action="store_true", help="open, screenshot and benchmark only")
    sys.exit(run(parser.parse_args()))
