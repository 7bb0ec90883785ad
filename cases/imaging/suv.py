"""Body-weight SUV scale factor of a PET series, following the QIBA vendor-neutral pseudo-code.

``SUVbw = rescaled PET value x factor``. For Units BQML and DecayCorrection START the
factor is ``weight [g] / (injected dose [Bq] decay-corrected from injection to scan
start)``; for ADMIN the images are already decay-corrected to injection, so the dose is
used as injected. Philips CNTS images carry private factors: (7053,1000) gives SUV per
pixel value directly, (7053,1009) converts CNTS to Bq/ml. The scan start is
SeriesDate/Time unless that lies after the earliest AcquisitionDate/Time (a series
re-created after the scan), in which case QIBA says to use GE's private post-injection
time (0009,100D) or the earliest acquisition time.

Whenever an input is missing or implausible the factor is None with a plain reason: a
specimen scan often has no weight or dose, and we never invent one.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta

from pydicom.datadict import tag_for_keyword
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset

from .dicomtime import combine, parse_date, parse_datetime, parse_time

UNIT_NAMES = {
    "BQML": "Bq/ml",
    "CNTS": "counts",
    "GML": "g/ml",  # already SUVbw
    "PROPCNTS": "proportional counts",
    "NONE": "unitless",
}
PHILIPS_CREATOR = "Philips PET Private Group"
GE_PET_CREATOR = "GEMS_PETD_01"
MIDNIGHT_WINDOW = timedelta(hours=12)  # longest plausible injection-to-scan delay across midnight


@dataclass(frozen=True)
class SuvResult:
    factor: float | None  # SUVbw per rescaled PET value; None when SUV is unavailable
    reason: str | None  # why factor is None (plain language), else None
    units: str  # DICOM Units (0054,1001) as found: "BQML", "CNTS", ...
    pet_value_unit: str  # unit of the rescaled PET values: "Bq/ml", "counts", ...
    decay_correction: str  # DICOM DecayCorrection (0054,1102): "START", "ADMIN", "NONE" or ""
    method: str | None = None  # "bqml", "philips_suv_factor", "philips_activity_factor", "gml"
    bqml_factor: float | None = None  # Bq/ml per rescaled value (1 for BQML, (7053,1009) for CNTS)
    patient_weight_kg: float | None = None
    injected_dose_bq: float | None = None
    half_life_s: float | None = None
    decay_time_s: float | None = None  # injection to scan start
    decayed_dose_bq: float | None = None
    scan_time_source: str | None = None  # "series", "acquisition_earliest", "ge_post_injection"
    warnings: tuple[str, ...] = field(default_factory=tuple)

    @property
    def available(self) -> bool:
        return self.factor is not None

    def in_bqml(self) -> SuvResult:
        """The same result re-expressed for PET values already converted to Bq/ml (divide by bqml_factor)."""
        if self.bqml_factor in (None, 1.0):
            return self
        factor = None if self.factor is None else self.factor / self.bqml_factor
        return replace(self, factor=factor, pet_value_unit="Bq/ml", bqml_factor=1.0)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["warnings"] = list(self.warnings)
        return data


def _number(value: object) -> float | None:
    """A positive finite number from DS/IS/bytes, else None."""
    if value is None or value == "":
        return None
    if isinstance(value, bytes):  # private tags read as UN in implicit VR files
        text = value.rstrip(b"\x00 ").decode("ascii", "ignore").strip()
        try:
            value = float(text)
        except ValueError:
            if len(value) != 8:
                return None
            value = struct.unpack("<d", value)[0]
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 and number == number and number != float("inf") else None


def _private(dataset: Dataset, *, group: int, element: int, creator: str) -> object:
    """Private value by creator, falling back to the conventional block 0x10 (creator not written)."""
    try:
        return dataset.get_private_item(group, element, creator).value
    except (KeyError, ValueError):
        tag = (group << 16) | 0x1000 | element
        return dataset[tag].value if tag in dataset else None


def _philips_factor(headers: Sequence[Dataset], *, element: int) -> tuple[float | None, bool]:
    """A Philips private factor from the slices: (value of the first slice, whether slices disagree)."""
    values = [_number(_private(h, group=0x7053, element=element, creator=PHILIPS_CREATOR)) for h in headers]
    present = [v for v in values if v is not None]
    if not present:
        return None, False
    varies = len(present) != len(values) or max(present) > min(present) * 1.001
    return present[0], varies


_ACQUISITION_TAGS = tuple(
    tag_for_keyword(k) for k in ("AcquisitionDateTime", "AcquisitionDate", "SeriesDate", "AcquisitionTime")
)


def _acquisition(header: Dataset) -> datetime | None:
    return parse_datetime(value=header.get("AcquisitionDateTime")) or combine(
        date_value=header.get("AcquisitionDate") or header.get("SeriesDate"),
        time_value=header.get("AcquisitionTime"),
    )


def _stored_key(header: Dataset, tags: tuple[int, ...]) -> tuple | None:
    """The elements' bytes as stored in the file (None for absent ones), or None once pydicom converted any."""
    key = []
    for tag in tags:
        element = header._dict.get(tag)
        if element is None:
            key.append(None)
        elif isinstance(element, RawDataElement) and isinstance(element.value, bytes):
            key.append((element.VR, element.value))
        else:
            return None
    return tuple(key)


def _earliest_acquisition(headers: Sequence[Dataset]) -> datetime | None:
    moments = []
    parsed: dict[tuple, datetime | None] = {}  # the slices repeat a few acquisition times: parse each once
    for header in headers:
        key = _stored_key(header, _ACQUISITION_TAGS)
        if key is None:
            moment = _acquisition(header)
        elif key in parsed:
            moment = parsed[key]
        else:
            moment = parsed[key] = _acquisition(header)
        if moment is not None:
            moments.append(moment)
    return min(moments) if moments else None


def _scan_start(headers: Sequence[Dataset], warnings: list[str]) -> tuple[datetime | None, str | None]:
    first = headers[0]
    series = combine(date_value=first.get("SeriesDate"), time_value=first.get("SeriesTime"))
    earliest = _earliest_acquisition(headers)
    if series is not None and (earliest is None or series <= earliest):
        return series, "series"
    if series is not None:
        # QIBA: a series time after acquisition means the series was (re)created later.
        ge = parse_datetime(value=_private(first, group=0x0009, element=0x0D, creator=GE_PET_CREATOR))
        if ge is not None:
            warnings.append("SeriesTime is after AcquisitionTime; used GE post-injection time (0009,100D).")
            return ge, "ge_post_injection"
        warnings.append("SeriesTime is after AcquisitionTime; used the earliest AcquisitionTime (QIBA rule).")
        return earliest, "acquisition_earliest"
    if earliest is not None:
        warnings.append("SeriesDate/SeriesTime missing; used the earliest AcquisitionDate/Time.")
        return earliest, "acquisition_earliest"
    return None, None


def _injection(
    info: Dataset, *, headers: Sequence[Dataset], scan: datetime, warnings: list[str]
) -> datetime | None:
    moment = parse_datetime(value=info.get("RadiopharmaceuticalStartDateTime"))
    if moment is not None:
        return moment
    start = parse_time(value=info.get("RadiopharmaceuticalStartTime"))
    if start is None:
        return None
    # Only a time of day: QIBA combines it with SeriesDate (else the scan date).
    day = parse_date(value=headers[0].get("SeriesDate")) or scan.date()
    moment = datetime.combine(day, start)
    if moment > scan and scan - (moment - timedelta(days=1)) <= MIDNIGHT_WINDOW:
        # Injected before midnight, scanned after: the injection was the previous day. Further
        # apart it is more likely a wrong time, left for the caller's "after the scan" check.
        warnings.append(
            "RadiopharmaceuticalStartTime is later in the day than the scan; assumed the day before."
        )
        moment -= timedelta(days=1)
    return moment


def compute_suv(*, headers: Sequence[Dataset]) -> SuvResult:
    """SUVbw scale factor for the PET series whose slice headers are given (any order)."""
    if not headers:
        raise ValueError("compute_suv needs at least one PET header")
    first = headers[0]
    units = str(first.get("Units", "") or "").strip().upper()
    decay = str(first.get("DecayCorrection", "") or "").strip().upper()
    base = SuvResult(
        factor=None,
        reason=None,
        units=units,
        pet_value_unit=UNIT_NAMES.get(units, units or "unknown"),
        decay_correction=decay,
    )
    warnings: list[str] = []

    def fail(reason: str, **values: object) -> SuvResult:
        return replace(base, reason=reason, warnings=tuple(warnings), **values)

    if units == "GML":
        return replace(base, factor=1.0, method="gml")
    bqml_factor: float | None = 1.0 if units == "BQML" else None
    if units == "CNTS":
        suv_factor, suv_varies = _philips_factor(headers, element=0x00)
        activity, activity_varies = _philips_factor(headers, element=0x09)
        if suv_varies or activity_varies:
            # One factor must serve the whole volume; per-slice factors would need per-slice scaling.
            return fail("Philips scale factors (7053,1000)/(7053,1009) differ between slices; not supported.")
        if suv_factor is not None:
            return replace(
                base,
                factor=suv_factor,
                method="philips_suv_factor",
                bqml_factor=activity,
                warnings=tuple(warnings),
            )
        if activity is None:
            return fail("Units are CNTS and the Philips scale factors (7053,1000)/(7053,1009) are missing.")
        bqml_factor = activity
    elif units != "BQML":
        return fail(
            f"PET Units '{units or 'missing'}' cannot be converted to SUV (need BQML or Philips CNTS)."
        )
    values: dict[str, object] = {"bqml_factor": bqml_factor}
    if decay == "NONE":
        return fail(
            "DecayCorrection is NONE (images not decay corrected); per-frame decay is not supported.",
            **values,
        )
    if decay not in ("START", "ADMIN"):
        return fail(f"DecayCorrection '{decay or 'missing'}' is not START or ADMIN.", **values)
    raw_corrected = first.get("CorrectedImage") or []
    corrected = [
        str(c).upper() for c in ([raw_corrected] if isinstance(raw_corrected, str) else raw_corrected)
    ]
    if corrected and "DECY" not in corrected:
        return fail("CorrectedImage does not include DECY although DecayCorrection is set.", **values)
    if corrected and "ATTN" not in corrected:
        warnings.append(
            "PET is not attenuation corrected (CorrectedImage lacks ATTN); SUV values are approximate."
        )
    weight = _number(first.get("PatientWeight"))
    values["patient_weight_kg"] = weight
    if weight is None:
        return fail("PatientWeight missing.", **values)
    if weight > 500:
        return fail(f"PatientWeight {weight} kg is implausible.", **values)
    sequence = first.get("RadiopharmaceuticalInformationSequence")
    if not sequence:
        return fail("RadiopharmaceuticalInformationSequence missing (no injected dose).", **values)
    info = sequence[0]
    dose = _number(info.get("RadionuclideTotalDose"))
    values["injected_dose_bq"] = dose
    if dose is None:
        return fail("RadionuclideTotalDose missing.", **values)
    method = "bqml" if units == "BQML" else "philips_activity_factor"
    if decay == "ADMIN":
        # Images are decay-corrected to the administration time: no decay of the dose.
        factor = weight * 1000.0 / dose * bqml_factor
        return replace(
            base, factor=factor, method=method, warnings=tuple(warnings), decayed_dose_bq=dose, **values
        )
    half_life = _number(info.get("RadionuclideHalfLife"))
    values["half_life_s"] = half_life
    if half_life is None:
        return fail("RadionuclideHalfLife missing.", **values)
    scan, source = _scan_start(headers, warnings)
    values["scan_time_source"] = source
    if scan is None:
        return fail("SeriesDate/SeriesTime and AcquisitionDate/Time missing (no scan start time).", **values)
    injection = _injection(info, headers=headers, scan=scan, warnings=warnings)
    if injection is None:
        return fail("RadiopharmaceuticalStartDateTime / RadiopharmaceuticalStartTime missing.", **values)
    decay_time = (scan - injection).total_seconds()
    values["decay_time_s"] = decay_time
    if decay_time < 0:
        return fail("The injection time is after the scan start.", **values)
    if decay_time > 10 * half_life:
        return fail(
            f"The scan starts {decay_time / 3600:.1f} h after injection (over 10 half-lives); check the times.",
            **values,
        )
    decayed = dose * 2.0 ** (-decay_time / half_life)
    factor = weight * 1000.0 / decayed * bqml_factor
    return replace(
        base, factor=factor, method=method, decayed_dose_bq=decayed, warnings=tuple(warnings), **values
    )
