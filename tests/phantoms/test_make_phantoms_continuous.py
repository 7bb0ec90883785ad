"""``make_phantoms --continuous``: writes DICOM + exact truth; bad flag combinations are refused."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command


@pytest.mark.slow
def test_continuous_band_container(tmp_path):
    out = io.StringIO()
    call_command(
        "make_phantoms", str(tmp_path), "--n", "1", "--size", "small", "--continuous", "--band",
        "--wrapping", "container", stdout=out,
    )
    truth = json.loads((tmp_path / "case_0000" / "truth" / "truth.json").read_text())
    assert 0.3 <= truth["closest_margin_mm"] <= 2.5
    assert truth["wrapping"]["kind"] == "container" and truth["wrapping"]["container_wall"]["thickness_mm"] > 0
    assert len(list((tmp_path / "case_0000" / "ct").glob("CT*.dcm"))) == truth["ct_grid"]["shape"][0]
    assert len(list((tmp_path / "case_0000" / "pet").glob("PT*.dcm"))) == truth["pet_grid"]["shape"][0]
    assert "wrote 1 continuous case" in out.getvalue()


def test_wrapping_without_continuous_is_refused(tmp_path):
    with pytest.raises(CommandError, match="--continuous"):
        call_command("make_phantoms", str(tmp_path), "--wrapping", "film", stdout=io.StringIO())
