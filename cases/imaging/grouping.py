"""Group DICOM headers into series and pair each study's CT with its PET.

One upload must hold one patient. Within a study we take the CT series (Modality CT) and
the PET series (Modality PT); when a study has several of one modality (a scout, a second
reconstruction) we keep the one with the most slices and say so. Benchtop PET and CT
units may write separate studies; when exactly one study has only PET and exactly one
has only CT, we pair those two with a warning rather than refuse the upload.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

from pydicom.multival import MultiValue

from .errors import PairingError
from .reading import DicomFile, has_element, header_text, raw_element

CT_MODALITY = "CT"
PET_MODALITY = "PT"


@dataclass
class Series:
    study_uid: str
    series_uid: str
    modality: str
    files: list[DicomFile]

    @property
    def first(self) -> DicomFile:
        return self.files[0]

    @property
    def description(self) -> str:
        return str(self.first.header.get("SeriesDescription", "") or "")

    @property
    def number(self) -> int | None:
        value = self.first.header.get("SeriesNumber")
        return int(value) if value not in (None, "") else None

    @property
    def frame_of_reference_uid(self) -> str | None:
        return self.first.header.get("FrameOfReferenceUID")

    @cached_property
    def n_slices(self) -> int:
        return len({header_text(f.header, "SOPInstanceUID") for f in self.files})

    def label(self) -> str:
        """How the user recognises the series in messages."""
        # No SeriesDescription: labels reach stored warnings, and descriptions may hold names.
        text = f"{self.modality} series"
        if self.number is not None:
            text += f" {self.number}"
        return text


@dataclass
class StudyPair:
    study_uid: str
    ct: Series
    pet: Series


@dataclass
class PairingResult:
    pairs: list[StudyPair]
    patient_id: str  # original (identifying) PatientID; hash it before storing
    warnings: list[str] = field(default_factory=list)


def group_series(*, files: Sequence[DicomFile]) -> list[Series]:
    """Files grouped by (StudyInstanceUID, SeriesInstanceUID), in upload order."""
    groups: dict[tuple[str, str], list[DicomFile]] = defaultdict(list)
    for dicom in files:
        header = dicom.header
        groups[(header_text(header, "StudyInstanceUID"), header_text(header, "SeriesInstanceUID"))].append(
            dicom
        )
    return [
        Series(
            study_uid=study,
            series_uid=series,
            modality=header_text(members[0].header, "Modality").upper(),
            files=members,
        )
        for (study, series), members in groups.items()
    ]


def _raw_key(header, *keywords: str) -> tuple | None:
    """The file bytes of ``keywords`` and the character set, or None when one of ``keywords`` was converted."""
    key = []
    for keyword in (*keywords, "SpecificCharacterSet"):
        if not has_element(header, keyword):
            key.append(None)
            continue
        raw = raw_element(header, keyword)
        if raw is not None:
            key.append(raw.value)
        elif keyword == "SpecificCharacterSet":
            # pydicom converts the character set while reading: its (plain) value is the key then.
            value = header["SpecificCharacterSet"].value
            key.append(tuple(value) if isinstance(value, MultiValue) else value)
        else:
            return None
    return tuple(key)


def _check_one_patient(files: Sequence[DicomFile]) -> str:
    patients: dict[str, str] = {}
    decoded: dict[tuple, str] = {}  # the slices of a study repeat one PatientID: decode each distinct one once
    for dicom in files:
        key = _raw_key(dicom.header, "PatientID")
        patient_id = decoded.get(key) if key is not None else None
        if patient_id is None:
            patient_id = str(dicom.header.get("PatientID", "") or "").strip()
            if key is not None:
                decoded[key] = patient_id
        if patient_id:
            patients.setdefault(patient_id, dicom.name)
    if len(patients) > 1:
        # Name files, not the IDs themselves: the message may reach a reader who must not see PHI.
        examples = ", ".join(f"'{name}'" for name in list(patients.values())[:3])
        raise PairingError(
            f"The upload holds images of {len(patients)} different patients (two patients in one upload; "
            f"see {examples}). Upload one patient at a time.",
            code="multiple_patients",
        )
    return next(iter(patients), "")


def _choose(candidates: list[Series], *, warnings: list[str]) -> Series:
    # Most slices wins; ties go to the lowest series number for a stable choice.
    ranked = sorted(candidates, key=lambda s: (-s.n_slices, s.number if s.number is not None else 1 << 30))
    chosen = ranked[0]
    if len(ranked) > 1:
        others = ", ".join(f"{s.label()} ({s.n_slices} slices)" for s in ranked[1:])
        warnings.append(
            f"The study has {len(ranked)} {chosen.modality} series; using {chosen.label()} "
            f"({chosen.n_slices} slices) and ignoring {others}."
        )
    return chosen


def pair_series(*, files: Sequence[DicomFile]) -> PairingResult:
    """One CT + PET pair per study; raises when a study (or the upload) cannot be paired."""
    patient_id = _check_one_patient(files)
    series = group_series(files=files)
    warnings: list[str] = []
    others = [s for s in series if s.modality not in (CT_MODALITY, PET_MODALITY)]
    if others:
        warnings.append(
            "Ignored series that are neither CT nor PET: " + ", ".join(s.label() for s in others) + "."
        )
    by_study: dict[str, dict[str, list[Series]]] = defaultdict(lambda: {CT_MODALITY: [], PET_MODALITY: []})
    for item in series:
        if item.modality in (CT_MODALITY, PET_MODALITY):
            by_study[item.study_uid][item.modality].append(item)
    if not by_study:
        raise PairingError(
            "The upload contains DICOM files but no CT or PET series "
            f"(found: {', '.join(sorted({s.modality for s in series}))}).",
            code="no_pet_ct",
        )
    pairs: list[StudyPair] = []
    pet_only: list[str] = []
    ct_only: list[str] = []
    for study_uid, modalities in by_study.items():
        if modalities[CT_MODALITY] and modalities[PET_MODALITY]:
            pairs.append(
                StudyPair(
                    study_uid=study_uid,
                    ct=_choose(modalities[CT_MODALITY], warnings=warnings),
                    pet=_choose(modalities[PET_MODALITY], warnings=warnings),
                )
            )
        elif modalities[PET_MODALITY]:
            pet_only.append(study_uid)
        else:
            ct_only.append(study_uid)
    if len(pet_only) == 1 and len(ct_only) == 1:
        # Separate PET and CT units (MOLECUBES beta-CUBE + X-CUBE) can write separate studies.
        ct = _choose(by_study[ct_only[0]][CT_MODALITY], warnings=warnings)
        pet = _choose(by_study[pet_only[0]][PET_MODALITY], warnings=warnings)
        warnings.append(
            f"CT and PET were in different studies; paired {ct.label()} with {pet.label()} "
            "because they are the only unpaired series of this patient."
        )
        pairs.append(StudyPair(study_uid=ct.study_uid, ct=ct, pet=pet))
        pet_only, ct_only = [], []
    if pet_only:
        labels = ", ".join(_choose(by_study[u][PET_MODALITY], warnings=[]).label() for u in pet_only)
        raise PairingError(
            f"PET without CT: {labels} has no CT series in the same study. Upload the CT together with the PET.",
            code="pet_without_ct",
        )
    if ct_only:
        labels = ", ".join(_choose(by_study[u][CT_MODALITY], warnings=[]).label() for u in ct_only)
        raise PairingError(
            f"CT without PET: {labels} has no PET series in the same study. Upload the PET together with the CT.",
            code="ct_without_pet",
        )
    for pair in pairs:
        if (
            pair.ct.frame_of_reference_uid
            and pair.ct.frame_of_reference_uid != pair.pet.frame_of_reference_uid
        ):
            warnings.append(
                f"{pair.ct.label()} and {pair.pet.label()} have different frames of reference; "
                "assuming both use the same scanner patient coordinates."
            )
    return PairingResult(pairs=pairs, patient_id=patient_id, warnings=warnings)
