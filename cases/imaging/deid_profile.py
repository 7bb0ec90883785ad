"""The PS3.15 Annex E basic profile as data, and the options we apply on top of it.

``deid_profile.json`` is generated from the standard's table by ``scripts/generate_deid_table.py``
(every attribute with its action). :func:`element_action` turns a tag plus the chosen options into
one effective action:

* ``X`` remove, ``Z`` empty (kept present), ``D`` dummy value, ``U`` remap UID, ``K`` keep,
  ``M`` modify (shift dates; times kept: Retain Longitudinal Temporal Information with Modified
  Dates), ``R`` keep and recurse into the sequence (U* sequences: their UIDs are remapped).
* Combined actions pick the least content that keeps the object valid: X/Z -> Z (type 2 stays
  present), X/D -> X, Z/D and X/Z/D -> Z, X/Z/U* -> U (UI) or R (sequence).
* Clean Descriptors: descriptors are removed (the strictest cleaning: free text may hold names).
* Retain Patient Characteristics: sex, age, weight, size and the like are kept (K).
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from pydicom.datadict import dictionary_VR, keyword_for_tag

PROFILE_PATH = Path(__file__).with_name("deid_profile.json")
DATE_VRS = frozenset({"DA", "DT", "TM"})
# Dates that identify the person rather than the study: never retained, even shifted.
NEVER_RETAINED_DATES = frozenset({"PatientBirthDate", "PatientBirthTime", "PatientBirthDateInAlternativeCalendar"})
PATIENT_CHARACTERISTICS = frozenset(
    {
        "PatientSex",
        "PatientAge",
        "PatientWeight",
        "PatientSize",
        "EthnicGroup",
        "PatientSexNeutered",
        "SmokingStatus",
        "PregnancyStatus",
    }
)
# Descriptors the Clean Descriptors option covers that the basic table may not list.
DESCRIPTORS = frozenset(
    {
        "StudyDescription",
        "SeriesDescription",
        "ProtocolName",
        "ImageComments",
        "AcquisitionComments",
        "PerformedProcedureStepDescription",
        "RequestedProcedureDescription",
        "ScheduledProcedureStepDescription",
        "DerivationDescription",
        "ContrastBolusAgent",
        "BodyPartExamined",
        "ReasonForStudy",
        "AdmittingDiagnosesDescription",
        "AdditionalPatientHistory",
        "PatientComments",
        "StudyComments",
        "SeriesDescriptionCodeSequence",
        "ProcedureCodeSequence",
        "PerformedProtocolCodeSequence",
        "RequestedProcedureCodeSequence",
    }
)
_COMBINED = {"X/Z": "Z", "X/D": "X", "Z/D": "Z", "X/Z/D": "Z"}


@lru_cache(maxsize=1)
def profile() -> tuple[dict[int, str], tuple[tuple[int, int, str], ...]]:
    """(exact tag -> action, (mask, value, action) for repeating groups) from the generated table."""
    rows = json.loads(PROFILE_PATH.read_text())["attributes"]
    exact = {int(r["tag"], 16): r["action"] for r in rows if "mask" not in r}
    masked = tuple((int(r["mask"], 16), int(r["tag"], 16), r["action"]) for r in rows if "mask" in r)
    return exact, masked


def table_action(tag: int) -> str | None:
    """The basic profile's action for a public tag, or None when the table does not list it."""
    exact, masked = profile()
    action = exact.get(tag)
    if action is None:
        action = next((a for mask, value, a in masked if tag & mask == value), None)
    return action


def _vr(tag: int) -> str | None:
    try:
        return dictionary_VR(tag)
    except KeyError:
        return None


@lru_cache(maxsize=8192)
def element_action(tag: int, *, clean_descriptors: bool, retain_characteristics: bool) -> str | None:
    """Effective action for a public tag under the options; None: not in the profile (kept)."""
    keyword = keyword_for_tag(tag)
    vr = _vr(tag)
    if retain_characteristics and keyword in PATIENT_CHARACTERISTICS:
        return "K"
    if keyword in DESCRIPTORS:
        return "X" if clean_descriptors else "K"
    action = table_action(tag)
    if action is None:
        return None
    if vr in DATE_VRS and keyword not in NEVER_RETAINED_DATES:
        return "M"
    if action == "X/Z/U*":
        return "U" if vr == "UI" else "R" if vr == "SQ" else "Z"
    return _COMBINED.get(action, action)
