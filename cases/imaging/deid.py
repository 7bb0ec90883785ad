"""De-identification of DICOM headers (PS3.15 Annex E basic profile, practical subset).

* Patient name and ID become the pseudonymous case code (made elsewhere, passed in).
* Identifying attributes are removed or emptied; every other person name is emptied.
* Private tags are removed (compute SUV first: Philips keeps its SUV factors there).
* Instance UIDs are remapped to ``2.25.<int>`` with a keyed hash (HMAC-SHA256 of the
  secret), so the same original UID maps to the same new UID in every import and the
  references between CT, PET and later exports stay intact.
* DA and DT values are shifted by a per-patient number of days derived from the secret and
  the original PatientID (consistent across imports of one patient); times are kept
  (Retain Longitudinal Temporal Information with Modified Dates option).
* Patient sex, age, weight and size are kept by default (Retain Patient Characteristics
  option); study/series descriptions are kept by default (set keep_descriptions=False to
  drop them: free text may contain names).
"""

from __future__ import annotations

import copy
import hashlib
import hmac
from collections.abc import Iterable, Sequence
from functools import lru_cache

from pydicom import config
from pydicom.datadict import dictionary_VR, keyword_for_tag
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence as DicomSequence
from pydicom.tag import BaseTag

from .dicomtime import parse_date, shift_date, shift_datetime

MAX_SHIFT_DAYS = 3650
# DeidentificationMethod is LO (64 characters per value) with VM 1-n: one short value per step.
METHOD_TEXT = (
    "petctweb PS3.15 E basic profile subset",
    "UIDs remapped with keyed hash",
    "dates shifted per patient",
    "private tags removed",
)

# Attributes removed outright (X): identifying free text, addresses, other IDs, staff, site.
REMOVE = frozenset(
    {
        "OtherPatientIDs",
        "OtherPatientIDsSequence",
        "OtherPatientNames",
        "PatientBirthTime",
        "PatientBirthName",
        "PatientMotherBirthName",
        "PatientAddress",
        "PatientTelephoneNumbers",
        "PatientTelecomInformation",
        "MilitaryRank",
        "BranchOfService",
        "MedicalRecordLocator",
        "CountryOfResidence",
        "RegionOfResidence",
        "Occupation",
        "PatientReligiousPreference",
        "PatientComments",
        "AdditionalPatientHistory",
        "MedicalAlerts",
        "Allergies",
        "LastMenstrualDate",
        "PatientInsurancePlanCodeSequence",
        "IssuerOfPatientID",
        "IssuerOfPatientIDQualifiersSequence",
        "ResponsiblePerson",
        "ResponsiblePersonRole",
        "ResponsibleOrganization",
        "InstitutionName",
        "InstitutionAddress",
        "InstitutionalDepartmentName",
        "InstitutionalDepartmentTypeCodeSequence",
        "InstitutionCodeSequence",
        "StationName",
        "DeviceSerialNumber",
        "PhysiciansOfRecord",
        "PhysiciansOfRecordIdentificationSequence",
        "PerformingPhysicianName",
        "PerformingPhysicianIdentificationSequence",
        "NameOfPhysiciansReadingStudy",
        "PhysiciansReadingStudyIdentificationSequence",
        "OperatorsName",
        "OperatorIdentificationSequence",
        "ReferringPhysicianAddress",
        "ReferringPhysicianTelephoneNumbers",
        "ReferringPhysicianIdentificationSequence",
        "RequestingPhysician",
        "RequestingService",
        "RequestAttributesSequence",
        "ReferencedPatientSequence",
        "AdmissionID",
        "IssuerOfAdmissionIDSequence",
        "AdmittingDiagnosesDescription",
        "AdmittingDiagnosesCodeSequence",
        "CurrentPatientLocation",
        "PatientInstitutionResidence",
        "ImageComments",
        "PerformedProcedureStepID",
        "PerformedProcedureStepDescription",
        "RequestedProcedureDescription",
        "RequestedProcedureID",
        "ScheduledProcedureStepDescription",
        "ScheduledProcedureStepID",
        "ScheduledPerformingPhysicianName",
        "AcquisitionComments",
        "FrameComments",
        "ReasonForStudy",
        "ReasonForTheRequestedProcedure",
        "StudyComments",
        "VisitComments",
        "ServiceEpisodeID",
        "ServiceEpisodeDescription",
        "InterpretationText",
        "TextComments",
        "PersonAddress",
        "PersonTelephoneNumbers",
        "DeviceUID",
        "PlacerOrderNumberImagingServiceRequest",
        "FillerOrderNumberImagingServiceRequest",
        "ModifiedAttributesSequence",
        "OriginalAttributesSequence",
        "DigitalSignaturesSequence",
    }
)
# Attributes kept but emptied (Z): type 2 in the image IODs, so they must stay present.
EMPTY = frozenset(
    {
        "AccessionNumber",
        "ReferringPhysicianName",
        "StudyID",
        "PatientBirthDate",
        "SpecimenIdentifier",
        "ContainerIdentifier",
        "PatientID",
    }
)
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
DESCRIPTIONS = frozenset({"StudyDescription", "SeriesDescription", "ProtocolName"})
# UIDs that name standard things (classes, syntaxes, coding schemes), never an instance: keep.
KEEP_UIDS = frozenset(
    {
        "SOPClassUID",
        "MediaStorageSOPClassUID",
        "TransferSyntaxUID",
        "ImplementationClassUID",
        "ReferencedSOPClassUID",
        "ReferencedSOPClassUIDInFile",
        "ReferencedTransferSyntaxUIDInFile",
        "CodingSchemeUID",
        "ContextGroupExtensionCreatorUID",
        "MappingResourceUID",
        "ContextUID",
        "RelatedGeneralSOPClassUID",
        "OriginalSpecializedSOPClassUID",
        "SOPClassesSupported",
        "PrivateInformationCreatorUID",
        "TemplateExtensionOrganizationUID",
        "TemplateExtensionCreatorUID",
    }
)
DICOM_ROOT = "1.2.840.10008."
_ACTION_VRS = frozenset({"SQ", "UI", "DA", "DT"})  # VRs whose values the rules look at


def _digest(*, secret: str, purpose: str, value: str) -> bytes:
    return hmac.new(secret.encode(), f"{purpose}:{value}".encode(), hashlib.sha256).digest()


def remap_uid(*, uid: str, secret: str) -> str:
    """Deterministic replacement UID under the 2.25 (UUID-derived) root, at most 44 characters."""
    uid = str(uid).strip().rstrip("\x00")
    if not uid:
        return uid
    return "2.25." + str(int.from_bytes(_digest(secret=secret, purpose="uid", value=uid)[:16], "big"))


def patient_key(*, patient_id: str, secret: str) -> str | None:
    """Stable keyed hash of the original PatientID (to recognise the patient later), or None if blank."""
    patient_id = str(patient_id or "").strip()
    if not patient_id:
        return None
    return _digest(secret=secret, purpose="patient", value=patient_id).hex()[:32]


def date_offset_days(*, patient_id: str, secret: str) -> int:
    """Days to add to every date of this patient: between -MAX_SHIFT_DAYS and -1 (always into the past)."""
    seed = int.from_bytes(
        _digest(secret=secret, purpose="dateshift", value=str(patient_id or "").strip())[:8], "big"
    )
    return -(1 + seed % MAX_SHIFT_DAYS)


def _put(dataset: Dataset, tag: int, vr: str, value: object, *, constant: bool = False) -> None:
    """``dataset.Keyword = value`` without the keyword lookups: an existing element keeps its VR.

    ``constant``: ``value`` is one of our own valid single strings; skip pydicom's conversion.
    """
    existing = dataset.get_item(tag)
    if existing is not None and existing.VR and existing.VR != "UN":
        vr = existing.VR
    if constant:
        dataset[tag] = DataElement(tag, vr, value, already_converted=True, validation_mode=config.IGNORE)
    else:
        dataset[tag] = DataElement(tag, vr, value)


def _code(value: str, meaning: str) -> Dataset:
    item = Dataset()
    _put(item, 0x00080100, "SH", value, constant=True)  # CodeValue
    _put(item, 0x00080102, "SH", "DCM", constant=True)  # CodingSchemeDesignator
    _put(item, 0x00080104, "LO", meaning, constant=True)  # CodeMeaning
    return item


def _map_uids(value: object, secret: str, memo: _Memo | None = None) -> object:
    remap = memo.remap if memo is not None else (lambda uid, secret: remap_uid(uid=uid, secret=secret))
    if isinstance(value, MultiValue | list):
        return [remap(str(v), secret) for v in value]
    return remap(str(value), secret)


def _is_instance_uid(keyword: str, value: object) -> bool:
    if keyword in KEEP_UIDS or keyword.endswith("ClassUID") or keyword.endswith("SyntaxUID"):
        return False
    values = value if isinstance(value, MultiValue | list) else [value]
    return any(v and not str(v).startswith(DICOM_ROOT) for v in values)


@lru_cache(maxsize=8192)
def _tag_rule(tag: int) -> tuple[str, str | None]:
    """Keyword and dictionary VR of a public tag (None when the dictionary does not know it)."""
    try:
        vr = dictionary_VR(tag)
    except KeyError:
        vr = None
    return keyword_for_tag(tag), vr


def _vr(dataset: Dataset, tag: BaseTag) -> str:
    vr = _tag_rule(int(tag))[1]
    if vr is None:  # unknown public tag: trust what the file says
        return dataset.get_item(tag).VR or "UN"
    return vr


class _Memo:
    """What de-identifying earlier headers of the same batch already worked out.

    ``elements``: (tag, VR as the file wrote it, raw value bytes) -> the new element's (VR, value),
    or None for "unchanged"; within one batch the rules depend only on those. ``uids``: remapped UIDs.
    """

    def __init__(self) -> None:
        self.elements: dict[tuple[int, str, bytes], tuple[str, object] | None] = {}
        self.uids: dict[str, str] = {}

    def remap(self, uid: str, secret: str) -> str:
        new = self.uids.get(uid)
        if new is None:
            new = self.uids[uid] = remap_uid(uid=uid, secret=secret)
        return new


def _clean(
    dataset: Dataset,
    *,
    secret: str,
    days: int,
    drop: frozenset[str],
    keep_private: bool,
    memo: _Memo | None = None,
) -> None:
    """Apply the rules in place, recursing into sequences."""
    for tag in list(dataset.keys()):
        if tag.is_private:
            if not keep_private:
                del dataset[tag]
            continue
        keyword = _tag_rule(int(tag))[0]
        if keyword in drop:
            del dataset[tag]
            continue
        # Decide from the dictionary first: most elements need no action and stay unparsed (fast).
        vr = _vr(dataset, tag)
        emptied = keyword in EMPTY or vr == "PN"
        if not emptied and vr not in _ACTION_VRS:
            continue
        key = None
        if memo is not None and vr != "SQ":
            raw = dataset.get_item(tag)
            if isinstance(raw, RawDataElement) and isinstance(raw.value, bytes):
                key = (int(tag), raw.VR or "", raw.value)
                if key in memo.elements:
                    done = memo.elements[key]
                    if done is not None:
                        new_vr, value = done
                        # Plain str values (UIDs, dates, emptied names) are immutable and can be shared.
                        dataset[tag] = DataElement(
                            tag,
                            new_vr,
                            value,
                            already_converted=not isinstance(value, list),
                            validation_mode=config.IGNORE,
                        )
                    continue
        element = dataset[tag]
        before = element.value
        if emptied:
            # Every person name, nested ones included; the top-level PatientName/ID are set afterwards.
            element.value = ""
        if element.VR == "SQ":
            for item in element.value or []:
                _clean(item, secret=secret, days=days, drop=drop, keep_private=keep_private, memo=memo)
        elif element.VR == "UI" and element.value and _is_instance_uid(keyword, element.value):
            element.value = _map_uids(element.value, secret, memo)
        elif element.VR in ("DA", "DT") and element.value:
            shift = shift_date if element.VR == "DA" else shift_datetime
            if isinstance(element.value, MultiValue | list):
                element.value = [shift(value=str(v), days=days) for v in element.value]
            else:
                element.value = shift(value=str(element.value), days=days)
        if key is not None:
            value = element.value
            unchanged = value is before and not emptied
            memo.elements[key] = (
                None if unchanged else (element.VR, list(value) if isinstance(value, MultiValue) else value)
            )


def _drop_set(*, keep_descriptions: bool, retain_patient_characteristics: bool) -> frozenset[str]:
    drop = set(REMOVE)
    if not keep_descriptions:
        drop |= DESCRIPTIONS
    if not retain_patient_characteristics:
        drop |= PATIENT_CHARACTERISTICS - {"PatientSex"}
    return frozenset(drop)


def _deidentify(
    out: Dataset,
    *,
    secret: str,
    case_code: str,
    days: int,
    drop: frozenset[str],
    retain_patient_characteristics: bool,
    keep_private: bool,
    memo: _Memo | None,
) -> Dataset:
    _clean(out, secret=secret, days=days, drop=drop, keep_private=keep_private, memo=memo)
    if not retain_patient_characteristics and "PatientSex" in out:
        out.PatientSex = ""
    meta = getattr(out, "file_meta", None)
    if meta is not None and "MediaStorageSOPInstanceUID" in meta:
        uid = str(meta.MediaStorageSOPInstanceUID)
        _put(
            meta,
            0x00020003,
            "UI",
            memo.remap(uid, secret) if memo is not None else remap_uid(uid=uid, secret=secret),
        )
    _put(out, 0x00100010, "PN", case_code)  # PatientName
    _put(out, 0x00100020, "LO", case_code)  # PatientID
    _put(out, 0x00120062, "CS", "YES", constant=True)  # PatientIdentityRemoved
    _put(out, 0x00280303, "CS", "MODIFIED", constant=True)  # LongitudinalTemporalInformationModified
    _put(out, 0x00120063, "LO", list(METHOD_TEXT))  # DeidentificationMethod
    codes = [
        _code("113100", "Basic Application Confidentiality Profile"),
        _code("113107", "Retain Longitudinal Temporal Information Modified Dates Option"),
    ]
    if retain_patient_characteristics:
        codes.append(_code("113108", "Retain Patient Characteristics Option"))
    _put(out, 0x00120064, "SQ", DicomSequence(codes))  # DeidentificationMethodCodeSequence
    return out


def deidentify_dataset(
    *,
    dataset: Dataset,
    secret: str,
    case_code: str,
    patient_id: str | None = None,
    keep_descriptions: bool = True,
    retain_patient_characteristics: bool = True,
    keep_private: bool = False,
    in_place: bool = False,
) -> Dataset:
    """A de-identified deep copy of ``dataset`` (headers; pixel data, if any, is copied untouched).

    ``patient_id`` is the original PatientID used for the date shift (defaults to the dataset's own).
    ``in_place=True`` modifies and returns ``dataset`` itself (saves the copy for large series).
    """
    if not secret:
        raise ValueError("a de-identification secret is required")
    original_id = str(patient_id if patient_id is not None else dataset.get("PatientID", "") or "")
    return _deidentify(
        dataset if in_place else copy.deepcopy(dataset),
        secret=secret,
        case_code=case_code,
        days=date_offset_days(patient_id=original_id, secret=secret),
        drop=_drop_set(
            keep_descriptions=keep_descriptions, retain_patient_characteristics=retain_patient_characteristics
        ),
        retain_patient_characteristics=retain_patient_characteristics,
        keep_private=keep_private,
        memo=None,
    )


def deidentify_datasets(
    *,
    datasets: Sequence[Dataset],
    secret: str,
    case_code: str,
    patient_id: str,
    keep_descriptions: bool = True,
    retain_patient_characteristics: bool = True,
    keep_private: bool = False,
) -> list[Dataset]:
    """:func:`deidentify_dataset` in place on many headers of one patient (the slices of a series).

    Same result as one call per dataset, but an element value shared by many slices (study and
    series UIDs, dates, names) is worked out once: a series costs little more than one header.
    """
    if not secret:
        raise ValueError("a de-identification secret is required")
    days = date_offset_days(patient_id=str(patient_id or ""), secret=secret)
    drop = _drop_set(
        keep_descriptions=keep_descriptions, retain_patient_characteristics=retain_patient_characteristics
    )
    memo = _Memo()
    return [
        _deidentify(
            dataset,
            secret=secret,
            case_code=case_code,
            days=days,
            drop=drop,
            retain_patient_characteristics=retain_patient_characteristics,
            keep_private=keep_private,
            memo=memo,
        )
        for dataset in datasets
    ]


def _plain(value: object) -> object:
    """pydicom value -> JSON-friendly Python."""
    if value is None or value == "":
        return None
    if isinstance(value, MultiValue | list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, int | float):
        return value if isinstance(value, int) and not isinstance(value, bool) else float(value)
    return str(value)


def _get(dataset: Dataset, keyword: str) -> object:
    return _plain(dataset.get(keyword))


def _series_metadata(header: Dataset, extra: Iterable[str]) -> dict:
    keywords = [
        "SeriesInstanceUID",
        "SeriesNumber",
        "SeriesDescription",
        "Modality",
        "Manufacturer",
        "ManufacturerModelName",
        "SoftwareVersions",
        "FrameOfReferenceUID",
        "SliceThickness",
        "ProtocolName",
        "BodyPartExamined",
        "ConvolutionKernel",
        *extra,
    ]
    return {keyword: _get(header, keyword) for keyword in keywords}


def _iso(value: object) -> str | None:
    day = parse_date(value=value)
    return day.isoformat() if day else None


def study_metadata(*, ct: Dataset, pet: Dataset) -> dict:
    """The metadata we store for a study, from DE-IDENTIFIED CT and PET headers (no PHI left to leak)."""
    if str(ct.get("PatientIdentityRemoved", "")).upper() != "YES":
        raise ValueError("study_metadata expects de-identified headers (PatientIdentityRemoved=YES)")
    radiopharmaceutical: dict = {}
    sequence = pet.get("RadiopharmaceuticalInformationSequence")
    if sequence:
        info = sequence[0]
        nuclide = info.get("RadionuclideCodeSequence")
        radiopharmaceutical = {
            "Radiopharmaceutical": _get(info, "Radiopharmaceutical"),
            "Radionuclide": _plain(nuclide[0].get("CodeMeaning")) if nuclide else None,
            "RadionuclideHalfLife": _get(info, "RadionuclideHalfLife"),
            "RadionuclideTotalDose": _get(info, "RadionuclideTotalDose"),
        }
    return {
        "StudyInstanceUID": _get(ct, "StudyInstanceUID"),
        "StudyDate": _iso(ct.get("StudyDate") or pet.get("StudyDate")),
        "StudyDescription": _get(ct, "StudyDescription"),
        "PatientID": _get(ct, "PatientID"),  # the case code
        "PatientSex": _get(ct, "PatientSex"),
        "PatientAge": _get(ct, "PatientAge"),
        "PatientWeight": _get(pet, "PatientWeight"),
        "Modalities": sorted({str(ct.get("Modality", "")), str(pet.get("Modality", ""))} - {""}),
        "CT": _series_metadata(ct, ["KVP", "XRayTubeCurrent", "Exposure"]),
        "PET": {
            **_series_metadata(
                pet,
                ["Units", "DecayCorrection", "CorrectedImage", "ReconstructionMethod", "ActualFrameDuration"],
            ),
            **radiopharmaceutical,
        },
        "Deidentification": {
            "PatientIdentityRemoved": _get(ct, "PatientIdentityRemoved"),
            "DeidentificationMethod": _get(ct, "DeidentificationMethod"),
            "DatesShifted": True,
        },
    }
