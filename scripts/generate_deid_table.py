"""Generate cases/imaging/deid_profile.json from the PS3.15 Annex E table shipped by dicom-anonymizer.

The project has no internet at run time, so the standard's Table E.1-1 (Basic Application Level
Confidentiality Profile: every attribute and its action D/Z/X/U and the combined X/Z, X/D, Z/D,
X/Z/D, X/Z/U*) is taken from the `dicom-anonymizer` package (Kitware, BSD-3), which transcribes it
per DICOM edition as Python lists. The package is read as text, never imported or installed:

    pip download --no-deps 'dicom-anonymizer==2.1.0' -d /tmp/deid
    python scripts/generate_deid_table.py /tmp/deid/dicom_anonymizer-2.1.0-py3-none-any.whl

The option columns (Clean Descriptors, Retain Longitudinal Temporal Information, Retain Patient
Characteristics) are not in that package; cases/imaging/deid_options.py applies them by rule.
"""

from __future__ import annotations

import ast
import json
import re
import sys
import zipfile
from pathlib import Path

from pydicom.datadict import dictionary_VR, keyword_for_tag

EDITION = "2026c"
MODULE = f"dicomanonymizer/dicom_anonymization_databases/dicomfields_{EDITION}.py"
OUTPUT = Path(__file__).resolve().parent.parent / "cases" / "imaging" / "deid_profile.json"
ACTIONS = {
    "D_TAGS": "D",
    "Z_TAGS": "Z",
    "X_TAGS": "X",
    "U_TAGS": "U",
    "Z_D_TAGS": "Z/D",
    "X_Z_TAGS": "X/Z",
    "X_D_TAGS": "X/D",
    "X_Z_D_TAGS": "X/Z/D",
    "X_Z_U_STAR_TAGS": "X/Z/U*",
}
_ENTRY = re.compile(r"\(\s*(0x[0-9A-Fa-f]{4}),\s*(0x[0-9A-Fa-f]{4})(?:,\s*(0x[0-9A-Fa-f]{4}),\s*(0x[0-9A-Fa-f]{4}))?,?\s*\),?\s*#\s*(.+)")


def _names(source: str) -> dict[tuple[int, int], str]:
    """Attribute names from the comments ('(0x0010, 0x0010),  # Patient's Name'), joined across lines."""
    flat = re.sub(r"\(\s*\n\s*", "(", source)
    flat = re.sub(r",\s*\n\s*(0x)", r", \1", flat)
    flat = re.sub(r",\s*\n\s*\),", ",),", flat)
    names = {}
    for match in _ENTRY.finditer(flat):
        names[(int(match.group(1), 16), int(match.group(2), 16))] = match.group(5).strip()
    return names


def main(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        source = archive.read(MODULE).decode()
    names = _names(source)
    attributes = []
    for node in ast.parse(source).body:
        if not (isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)):
            continue
        action = ACTIONS.get(node.targets[0].id)
        if action is None:
            continue
        for entry in ast.literal_eval(node.value):
            group, element, *mask = entry
            tag = (group << 16) | element
            row = {
                "tag": f"{tag:08X}",
                "name": names.get((group, element), ""),
                "keyword": keyword_for_tag(tag) if not mask else "",
                "vr": _vr(tag) if not mask else "",
                "action": action,
            }
            if mask:  # repeating groups (curves 50xx, overlays 60xx): compare (tag & mask) == tag
                row["mask"] = f"{(mask[0] << 16) | mask[1]:08X}"
            attributes.append(row)
    attributes.sort(key=lambda row: row["tag"])
    OUTPUT.write_text(
        json.dumps(
            {
                "standard": "DICOM PS3.15 Annex E, Table E.1-1, Basic Application Level Confidentiality Profile",
                "edition": EDITION,
                "source": f"dicom-anonymizer 2.1.0, {MODULE}",
                "generated_by": "scripts/generate_deid_table.py",
                "attributes": attributes,
            },
            indent=1,
        )
        + "\n"
    )
    print(f"{len(attributes)} attributes -> {OUTPUT}")


def _vr(tag: int) -> str:
    try:
        return dictionary_VR(tag)
    except KeyError:
        return ""


if __name__ == "__main__":
    main(Path(sys.argv[1]))
