"""A case's model margin result as a download: JSON (everything stored) and CSV (one row per scope:
overall, each fold, each face, each focus), both strict (no inf or NaN).

Faces keep their scanner labels (+x .. -z, as stored); ``face_names`` ({label: anatomical name}, from the
case's newest specimen orientation) adds the anatomical name next to each label where one is recorded.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping

from petctweb.csv_safety import csv_writer

CSV_COLUMNS = ("case", "model", "scope", "name", "anatomical_name", "status", "closest_mm", "interval_low_mm",
               "interval_high_mm", "threshold_mm", "volume_mm3", "indeterminate")


def _anatomical(face_names: Mapping[str, str] | None) -> dict[str, str]:
    """Only real anatomical names: an unnamed face maps to itself in ``cases.orientation.face_names``."""
    return {face: name for face, name in (face_names or {}).items() if name and name != face}


def margin_json(*, case_code: str, margin: dict, face_names: Mapping[str, str] | None = None) -> str:
    named = _anatomical(face_names)
    return json.dumps({"case": case_code, "margin": margin, "face_names": named}, indent=2, allow_nan=False)


def margin_csv(*, case_code: str, margin: dict, face_names: Mapping[str, str] | None = None) -> str:
    interval = margin.get("interval_mm") or [None, None]
    model = margin.get("model_version") or ""
    threshold = margin.get("threshold_mm")
    named = _anatomical(face_names)

    def row(scope, name, status, closest, low=None, high=None, volume=None, anatomical=""):
        return [case_code, model, scope, name, anatomical, status, _cell(closest), _cell(low), _cell(high),
                _cell(threshold), _cell(volume), "yes" if status == "indeterminate" else "no"]

    rows = [row("overall", "specimen", margin["status"], margin.get("closest_margin_mm"), interval[0], interval[1])]
    rows += [row("fold", str(f["fold"]), f["status"], f.get("closest_mm")) for f in margin.get("folds") or []]
    faces = margin.get("faces") or {}
    rows += [row("face", face, "", distance, anatomical=named.get(face, "")) for face, distance in faces.items()]
    rows += [row("focus", str(i + 1), "", focus.get("closest_mm"), volume=focus.get("volume_mm3"))
             for i, focus in enumerate(margin.get("foci") or [])]
    buffer = io.StringIO()
    writer = csv_writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for item in rows:
        writer.writerow(item)
    return buffer.getvalue()


def _cell(value):
    return "" if value is None else value
