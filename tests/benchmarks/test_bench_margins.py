"""bench_margins: cached continuous-truth cases through the margin analysis, strict JSON out."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command

pytestmark = pytest.mark.slow


def _run(*args) -> dict:
    out = io.StringIO()
    call_command("bench_margins", *args, stdout=out, stderr=io.StringIO())
    return json.loads(out.getvalue(), parse_constant=lambda c: pytest.fail(f"non-strict JSON {c}"))


def test_geometry_alone_on_a_cached_case_and_a_rerun_reuses_it(tmp_path):
    cache = tmp_path / "cache"  # a folder named for the first time is made
    args = ("--n", "1", "--seed", "11", "--wrappings", "none", "--no-end-to-end", "--speed-seed", "0",
            "--cache", str(cache), "--rows")
    report = _run(*args)
    geometry = report["geometry"]["none"]
    assert geometry["n"] == 1 and geometry["p95_abs_mm"] <= 0.10
    (row,) = report["rows"]["none"]
    assert 0.3 <= row["truth_mm"] <= 2.5  # a band case
    cached = cache / "small-11-none"
    assert (cached / "done").exists()
    stamp = (cached / "meta.json").stat().st_mtime_ns
    assert _run(*args)["rows"]["none"][0]["measured_mm"] == row["measured_mm"]
    assert (cached / "meta.json").stat().st_mtime_ns == stamp  # not generated again
    # A case cached by an older generator (v1 recorded no version) is made again with today's.
    meta = json.loads((cached / "meta.json").read_text())
    del meta["truth"]["generator_version"]
    (cached / "meta.json").write_text(json.dumps(meta))
    _run(*args)
    assert json.loads((cached / "meta.json").read_text())["truth"]["generator_version"] >= 2


def test_bad_count_is_refused(tmp_path):
    with pytest.raises(CommandError, match="--n"):
        call_command("bench_margins", "--n", "0", "--cache", str(tmp_path), stdout=io.StringIO())
