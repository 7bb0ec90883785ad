"""Study metadata of a synthetic case: dates, patient, institution, all derived from the seed."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np

from cases.phantoms.dicom_writer import StudyInfo, seeded_uid

_INSTITUTIONS = (
    "Synthetic University Hospital",
    "General Hospital of Nowhere",
    "St. Example Breast Clinic",
    "Imaginary Cancer Centre",
)
_PHYSICIANS = ("DOE^JANE", "ROE^RICHARD", "SMITH^ALEX", "JANSSENS^AN", "PEETERS^MARC")



def draw_study(
    *, rng: np.random.Generator, seed: int, case_number: int, weight_kg: float
) -> tuple[StudyInfo, datetime]:
    day = datetime(2022, 1, 3) + timedelta(days=int(rng.integers(0, 900)))
    injection = day + timedelta(hours=7, seconds=int(rng.integers(0, 3 * 3600)))
    birth = datetime(1945, 1, 1) + timedelta(days=int(rng.integers(0, 45 * 365)))
    study = StudyInfo(
        case_number=case_number,
        seed=seed,
        study_uid=seeded_uid(seed, case_number, "study"),
        frame_of_reference_uid=seeded_uid(seed, case_number, "frame-of-reference"),
        study_time=injection,  # replaced below once the scan times are known
        patient_birth_date=birth.strftime("%Y%m%d"),
        patient_weight_kg=weight_kg,
        accession_number=f"A{int(rng.integers(10**7, 10**8))}",
        institution_name=_INSTITUTIONS[int(rng.integers(len(_INSTITUTIONS)))],
        referring_physician=_PHYSICIANS[int(rng.integers(len(_PHYSICIANS)))],
        operator_name=_PHYSICIANS[int(rng.integers(len(_PHYSICIANS)))],
        laterality="L" if rng.random() < 0.5 else "R",
    )
    return study, injection
