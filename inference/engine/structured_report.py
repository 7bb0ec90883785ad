"""The margin result as a DICOM Structured Report: TID 1500 Measurement Report (highdicom, Comprehensive 3D SR).

One measurement group (TID 1501) for the tumour, made by the named algorithm (TID 4019), referencing
the CT images it was computed on: the closest tumour-to-surface distance, the distance at every
specimen face that has tumour near it (faces without are omitted), the threshold, the folds'
interval when present, and the margin status as a coded qualitative evaluation. Codes: SNOMED CT
and DCM where a concept exists, else the private scheme ``99PETCTWEB`` (docs/pacs.md lists them).
Face distances keep their scanner concept (FACE-+X ..: stable whatever the orientation); where the
specimen orientation names the face, the measurement's finding site says which: breast with the
SNOMED CT topographical modifier (superior, lateral, deep ...).

Source CT datasets may be header-only: only UIDs and patient/study attributes are read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import highdicom as hd
import pydicom
from pydicom.sr.codedict import codes
from pydicom.sr.coding import Code

SCHEME = "99PETCTWEB"  # private concepts; code values stay within 16 characters (SH)
MM = Code("mm", "UCUM", "millimeter")
CLOSEST_MARGIN = Code("CLOSEST-MARGIN", SCHEME, "Closest tumour to specimen surface distance")
MARGIN_THRESHOLD = Code("MARGIN-THRESHOLD", SCHEME, "Margin status threshold")
INTERVAL_LOW = Code("MARGIN-LOW", SCHEME, "Closest margin, lowest of the ensemble folds")
INTERVAL_HIGH = Code("MARGIN-HIGH", SCHEME, "Closest margin, highest of the ensemble folds")
NO_TUMOUR_DETECTED = Code("NO-TUMOUR", SCHEME, "No tumour detected")
# SNOMED CT anatomic modifiers (CID 2) for the anatomical face names of cases.orientation.
FACE_MODIFIERS = {
    "superior": codes.SCT.Superior, "inferior": codes.SCT.Inferior, "medial": codes.SCT.Medial,
    "lateral": codes.SCT.Lateral, "anterior": codes.SCT.Anterior, "posterior": codes.SCT.Posterior,
    "superficial": codes.SCT.Superficial, "deep": codes.SCT.Deep,
}
STATUS_VALUES = {
    "positive": codes.SCT.Positive,
    "negative": codes.SCT.Negative,
    "indeterminate": codes.SCT.Indeterminate,
    "no_tumour_detected": NO_TUMOUR_DETECTED,
}


def face_code(face: str) -> Code:
    """The private concept for the distance at one specimen face ("+x".."-z" or an anatomical name)."""
    return Code(f"FACE-{face.upper()}"[:16], SCHEME, f"Tumour to specimen surface distance, face {face}")


@dataclass(frozen=True)
class MarginReportInput:
    """The stored margin result, as plain values (no Django)."""

    status: str
    closest_margin_mm: float | None
    threshold_mm: float
    faces: Mapping[str, float | None] = field(default_factory=dict)
    interval_mm: Sequence[float] | None = None
    face_names: Mapping[str, str] = field(default_factory=dict)  # scanner label -> anatomical name, where known


def face_site(name: str | None) -> hd.sr.FindingSite | None:
    """The finding site of a face distance: the breast (the specimen's origin) on the named side."""
    modifier = FACE_MODIFIERS.get(name or "")
    if modifier is None:
        return None
    return hd.sr.FindingSite(anatomic_location=codes.SCT.Breast, topographical_modifier=modifier)


def _measurements(margin: MarginReportInput) -> list[hd.sr.Measurement]:
    values = [(MARGIN_THRESHOLD, margin.threshold_mm)]
    if margin.closest_margin_mm is not None:
        values.append((CLOSEST_MARGIN, margin.closest_margin_mm))
    if margin.interval_mm:
        values += [(INTERVAL_LOW, margin.interval_mm[0]), (INTERVAL_HIGH, margin.interval_mm[1])]
    measurements = [hd.sr.Measurement(name=name, value=float(value), unit=MM) for name, value in values]
    for face, distance in sorted(margin.faces.items()):
        if distance is None:
            continue
        site = face_site(margin.face_names.get(face))
        measurements.append(hd.sr.Measurement(name=face_code(face), value=float(distance), unit=MM,
                                              finding_sites=[site] if site else None))
    return measurements


def margin_structured_report(
    *,
    source_ct_datasets: Sequence[pydicom.Dataset],
    margin: MarginReportInput,
    model_name: str,
    model_version: str,
    series_instance_uid: str,
    sop_instance_uid: str,
    series_number: int = 901,
    manufacturer: str = "petctweb",
) -> hd.sr.Comprehensive3DSR:
    """A TID 1500 measurement report of ``margin`` referencing every CT image in ``source_ct_datasets``."""
    if not source_ct_datasets:
        raise ValueError("no source CT images given")
    if margin.status not in STATUS_VALUES:
        raise ValueError(f"unknown margin status '{margin.status}' ({', '.join(STATUS_VALUES)})")
    algorithm = hd.sr.AlgorithmIdentification(name=model_name[:64], version=model_version[:64] or "unversioned")
    device = hd.sr.DeviceObserverIdentifyingAttributes(
        uid=hd.UID(), name=model_name[:64], manufacturer_name=manufacturer, model_name=model_version[:64] or None
    )
    context = hd.sr.ObservationContext(
        observer_device_context=hd.sr.ObserverContext(observer_type=codes.DCM.Device,
                                                      observer_identifying_attributes=device)
    )
    group = hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(uid=hd.UID(), identifier="Tumour margin"),
        finding_type=codes.SCT.Tumor,
        algorithm_id=algorithm,
        measurements=_measurements(margin),
        qualitative_evaluations=[
            hd.sr.QualitativeEvaluation(name=codes.SCT.TumorMarginStatus, value=STATUS_VALUES[margin.status])
        ],
        source_images=[
            hd.sr.SourceImageForMeasurementGroup(
                referenced_sop_class_uid=ds.SOPClassUID, referenced_sop_instance_uid=ds.SOPInstanceUID
            )
            for ds in source_ct_datasets
        ],
    )
    report = hd.sr.MeasurementReport(
        observation_context=context, procedure_reported=codes.SCT.ImagingProcedure, imaging_measurements=[group]
    )
    report_sop = hd.sr.Comprehensive3DSR(
        evidence=list(source_ct_datasets),
        content=report,
        series_instance_uid=series_instance_uid,
        series_number=series_number,
        sop_instance_uid=sop_instance_uid,
        instance_number=1,
        manufacturer=manufacturer,
        series_description=f"AI margin report, {model_name} {model_version}"[:64],
        is_complete=True,
    )
    scheme = pydicom.Dataset()  # declares the private scheme (SOP Common: Coding Scheme Identification)
    scheme.CodingSchemeDesignator = SCHEME
    scheme.CodingSchemeName = "petctweb margin concepts (docs/pacs.md)"
    scheme.CodingSchemeResponsibleOrganization = "petctweb"
    report_sop.CodingSchemeIdentificationSequence = [scheme]
    return report_sop
