"""Viewer benchmark in Debian's Chromium against a running petctweb (scripts/run.sh).

Prints the time to the first image after opening a case and the mean render time of a fused
slice with overlays at the case's size and at 512 x 512 (performance.now inside the page).

    .venv/bin/python scripts/bench_viewer.py --url http://127.0.0.1:8000 --user reader1 --password ...
"""

from __future__ import annotations

import argparse
import json
import statistics

from playwright.sync_api import sync_playwright


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--user", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--opens", type=int, default=5, help="how many times to open the case")
    parser.add_argument("--renders", type=int, default=100)
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=args.chromium,
                                             args=["--no-sandbox", "--disable-background-networking"])
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        page.goto(f"{args.url}/accounts/login/")
        page.get_by_test_id("login-username").fill(args.user)
        page.get_by_test_id("login-password").fill(args.password)
        page.get_by_test_id("login-submit").click()
        page.wait_for_url(f"{args.url}/")
        case_url = page.get_by_test_id("case-link").first.get_attribute("href")
        first_images, ready = [], []
        for _ in range(args.opens):
            page.goto(f"{args.url}{case_url}")
            timings = page.evaluate("window.petctViewer.ready")
            first_images.append(timings["firstImageMs"])
            ready.append(timings["readyMs"])
        shape = page.evaluate(
            "fetch(JSON.parse(document.getElementById('viewer-config').textContent).apiBase)"
            ".then((r) => r.json()).then((d) => d.working_grid.shape)"
        )
        render_case = page.evaluate(f"window.petctViewer.benchmarkRender({args.renders}, 'axial')")
        # The same fused render with overlays, drawn into a 512 x 512 view.
        page.set_viewport_size({"width": 2200, "height": 1400})
        page.wait_for_timeout(300)
        render_large = page.evaluate(f"window.petctViewer.benchmarkRender({args.renders}, 'axial')")
        browser.close()
    print(json.dumps({
        "case": case_url,
        "volume_shape": shape,
        "first_image_ms": {"median": statistics.median(first_images), "max": max(first_images), "all": first_images},
        "ready_ms_median": statistics.median(ready),
        "render_ms_per_slice_case_view": render_case,
        "render_ms_per_slice_large_view": render_large,
    }, indent=2))


if __name__ == "__main__":
    main()
