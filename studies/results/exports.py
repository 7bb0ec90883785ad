"""Study exports: every read (CSV), every statistic (CSV, JSON), iMRMC input, and the masks (zip).

The functions build the file contents; :func:`record_export` writes the audit event
("study.export") that every export path (API and ``export_study``) must write.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import warnings
import zipfile
from typing import IO, Any

from cases.orientation import face_names_for_codes
from petctweb.csv_safety import csv_writer
from studies.models import FACES
from studies.results.report import mrmc_data
from studies.results.table import StudyTable
from studies.stats.binary import METRIC_NAMES
from studies.stats.imrmc import MrmcInputError, write_imrmc

EXPORT_FORMATS = ("json", "reads.csv", "statistics.csv", "study.imrmc", "masks.zip")


class ExportUnavailable(Exception):
    """The export cannot be produced for this study (with a reason for people)."""


def record_export(*, user, study_id: int, fmt: str, detail: dict | None = None) -> None:
    from studies.services import export_record

    export_record(user=user, what="study", object_type="study", object_id=study_id,
                  detail={"study_id": study_id, "format": fmt, **(detail or {})})


def file_name(study_id: int, fmt: str) -> str:
    return f"study-{study_id}-{'results.json' if fmt == 'json' else fmt}"


# --- JSON ----------------------------------------------------------------------------------------


def report_json(report: dict) -> str:
    return json.dumps(report, indent=2, allow_nan=False) + "\n"


# --- reads ---------------------------------------------------------------------------------------

READS_COLUMNS = [
    "study_id", "case", "reader", "session", "session_key", "aided", "read_id", "version", "amends", "final",
    "status", "positive", "confidence", "roc_score", *[f"face_{f}" for f in FACES], "time_spent_s",
    "segmentation_id", "opened_at", "submitted_at", "truth_status", "truth_positive", "truth_closest_mm",
    "truth_version", "model", "model_status", "model_positive", "model_closest_mm", "model_score",
    "model_interval_low_mm", "model_interval_high_mm", "model_indeterminate", "model_fold_closest_mm", "comment",
    "case_code", "unit", "slice_index",  # lamella studies: "case" is the unit, of case case_code at slice_index
    "face_names",  # "+x=lateral;-x=medial;..." from the case's newest specimen orientation, at export time
    "face_calls",  # the per-face calls by anatomical name where oriented ("lateral=positive;+y=negative")
]


def _flag(value: bool | None) -> str:
    return "" if value is None else str(int(bool(value)))


def _blank(value: Any) -> Any:
    return "" if value is None else value


def _model_confidence_cells(model) -> list:
    """The folds' interval, whether the call is indeterminate, and each fold's closest margin ("0.8;1.2")."""
    if model is None:
        return ["", "", "", ""]
    low, high = model.interval_mm or (None, None)
    folds = ";".join("" if f.get("closest_mm") is None else f"{f['closest_mm']:g}" for f in model.folds)
    return [_blank(low), _blank(high), _flag(model.status == "indeterminate"), folds]


def reads_csv(table: StudyTable) -> str:
    """Every version of every call (``final`` = the version the statistics use), with truth and model."""
    by_code = {c.code: c for c in table.cases}
    names = face_names_for_codes(codes={r.get("case_code", r["case"]) for r in table.all_reads})
    buffer = io.StringIO()
    writer = csv_writer(buffer)
    writer.writerow(READS_COLUMNS)
    for r in table.all_reads:
        case_names = names.get(r.get("case_code", r["case"]), {})
        case = by_code.get(r["case"])
        truth = case.truth if case else None
        model = case.model if case else None
        writer.writerow([
            table.study["id"], r["case"], r["reader"], r["session"], r["session_key"], _flag(r["aided"]),
            r["read_id"], r["version"], _blank(r["amends"]), _flag(r["final"]), r["status"], _flag(r["positive"]),
            r["confidence"], r["score"], *[r["face_calls"].get(f, "") for f in FACES], r["time_spent_s"],
            _blank(r["segmentation_id"]), _blank(r["opened_at"]), r["submitted_at"],
            truth.status if truth else "", _flag(truth.positive) if truth else "",
            _blank(truth.closest_distance_mm) if truth else "", truth.version if truth else "",
            model.model if model else "", model.status if model else "", _flag(model.positive) if model else "",
            _blank(model.closest_mm) if model else "", model.score if model else "",
            *_model_confidence_cells(model), r["comment"], r.get("case_code", r["case"]), r.get("unit", ""),
            _blank(r.get("slice_index")),
            ";".join(f"{face}={name}" for face, name in case_names.items()),
            ";".join(f"{case_names.get(f, f)}={r['face_calls'][f]}" for f in FACES if r["face_calls"].get(f)),
        ])
    return buffer.getvalue()


# --- statistics ----------------------------------------------------------------------------------

STATISTICS_COLUMNS = ["section", "session", "rater", "comparator", "metric", "value", "ci_low", "ci_high", "n",
                      "numerator", "denominator", "p_value", "method", "not_computable_reason"]


class _Rows:
    def __init__(self) -> None:
        self.rows: list[list[Any]] = []

    def add(self, section: str, session: str, rater: str, comparator: str, metric: str, obj: Any = None, *,
            value: Any = None, ci: Any = None, n: Any = None, p: Any = None, method: str = "",
            numerator: Any = None, denominator: Any = None) -> None:
        reason = ""
        if isinstance(obj, dict) and obj.get("not_computable"):
            reason, value = obj.get("reason", ""), None
        elif isinstance(obj, dict):
            value = obj.get("value", value)
            ci = obj.get("ci95", ci)
            method = obj.get("method", method)
            numerator = obj.get("numerator", numerator)
            denominator = obj.get("denominator", denominator)
        elif obj is not None:
            value = obj
        low, high = (ci if isinstance(ci, list | tuple) and len(ci) == 2 else (None, None))
        self.rows.append([section, session, rater, comparator, metric, _blank(value), _blank(low), _blank(high),
                          _blank(n), _blank(numerator), _blank(denominator), _blank(p), method, reason])

    def nc(self, section: str, session: str, rater: str, comparator: str, metric: str, obj: dict) -> bool:
        if isinstance(obj, dict) and obj.get("not_computable"):
            self.add(section, session, rater, comparator, metric, obj)
            return True
        return False


def _binary(rows: _Rows, section: str, session: str, rater: str, m: dict) -> None:
    if rows.nc(section, session, rater, "ground truth", "all", m):
        return
    n = m["counts"]["n"]
    for cell in ("tp", "fp", "tn", "fn"):
        rows.add(section, session, rater, "ground truth", cell, value=m["counts"][cell], n=n)
    for name in METRIC_NAMES:
        rows.add(section, session, rater, "ground truth", name, m[name], n=n)


def _mean_sd(rows: _Rows, section: str, session: str, summary: Any, metrics=METRIC_NAMES,
             rater: str = "readers (mean, SD)") -> None:
    if rows.nc(section, session, rater, "", "all", summary):
        return
    for name in metrics:
        ms = summary[name]
        if rows.nc(section, session, rater, "", name, ms):
            continue
        rows.add(section, session, rater, "", f"{name}_mean", value=ms["mean"], n=ms["n"])
        rows.add(section, session, rater, "", f"{name}_sd", ms["sd"] if isinstance(ms["sd"], dict) else None,
                 value=None if isinstance(ms["sd"], dict) else ms["sd"], n=ms["n"])


def _kappa(rows: _Rows, section: str, session: str, a: str, b: str, k: dict, metric="cohen_kappa") -> None:
    if rows.nc(section, session, a, b, metric, k):
        return
    rows.add(section, session, a, b, metric, value=k["kappa"], ci=k["ci95"] if isinstance(k["ci95"], list) else None,
             n=k.get("n", k.get("n_subjects")), p=k.get("p"), method=k.get("method", ""))


def _mcnemar(rows: _Rows, section: str, session: str, a: str, b: str, pair: dict) -> None:
    correctness = pair["correctness"]
    if not rows.nc(section, session, a, b, "mcnemar_correctness", correctness):
        for part in ("accuracy", "sensitivity", "specificity"):
            test = correctness[part]
            if not rows.nc(section, session, a, b, f"mcnemar_{part}", test):
                rows.add(section, session, a, b, f"mcnemar_{part}", value=test["b_a_only"] - test["c_b_only"],
                         n=test["n_pairs"], p=test["p"], method=f"{test['method']}; value = b - c")
    calls = pair["calls"]
    if not rows.nc(section, session, a, b, "mcnemar_calls", calls):
        rows.add(section, session, a, b, "mcnemar_calls", value=calls["b_a_only"] - calls["c_b_only"],
                 n=calls["n_pairs"], p=calls["p"], method=f"{calls['method']}; value = b - c")


def _auc(rows: _Rows, section: str, session: str, rater: str, entry: Any) -> None:
    if rows.nc(section, session, rater, "ground truth", "auc", entry):
        return
    auc = entry["auc"]
    if rows.nc(section, session, rater, "ground truth", "auc", auc):
        return
    rows.add(section, session, rater, "ground truth", "auc", value=auc["auc"], ci=auc["ci95"], n=entry["n_cases"],
             method=auc["method"])
    op = entry["operating_point"]
    rows.add(section, session, rater, "ground truth", "operating_point_fpr", value=op["fpr"])
    rows.add(section, session, rater, "ground truth", "operating_point_tpr", value=op["tpr"])


def _segmentation(rows: _Rows, session: str, rater: str, comparator: str, packed: dict) -> None:
    for name in ("dice", "hausdorff_mm", "mean_surface_distance_mm"):
        ms = packed["summary"][name]
        if rows.nc("segmentation", session, rater, comparator, name, ms):
            continue
        rows.add("segmentation", session, rater, comparator, f"{name}_mean", value=ms["mean"], n=ms["n"])
        rows.add("segmentation", session, rater, comparator, f"{name}_sd",
                 ms["sd"] if isinstance(ms["sd"], dict) else None,
                 value=None if isinstance(ms["sd"], dict) else ms["sd"], n=ms["n"])


def statistics_rows(report: dict) -> list[list[Any]]:
    """Every statistic of the report as long-format rows (see ``STATISTICS_COLUMNS``)."""
    rows = _Rows()
    model = report["model"]["key"]
    acc = report["accuracy"]
    _binary(rows, "accuracy", "", model, acc["model"])
    for key, s in acc["sessions"].items():
        for reader, m in s["readers"].items():
            _binary(rows, "accuracy", key, reader, m)
        _mean_sd(rows, "accuracy", key, s["reader_mean_sd"])
    face = report["per_face"]
    if not rows.nc("per_face", "", "", "", "all", face):
        _binary(rows, "per_face", "", model, face["model"])
        for key, s in face["sessions"].items():
            for reader, m in s["readers"].items():
                _binary(rows, "per_face", key, reader, m)
            _mean_sd(rows, "per_face", key, s["reader_mean_sd"])
    roc = report["roc"]
    _auc(rows, "roc", "", model, roc["model"])
    for key, s in roc["sessions"].items():
        for reader, entry in s["readers"].items():
            _auc(rows, "roc", key, reader, entry)
    agr = report["agreement"]
    _kappa(rows, "agreement", "", model, "ground truth", agr["model_vs_truth"])
    for key, s in agr["sessions"].items():
        for reader, k in s["reader_vs_truth"].items():
            _kappa(rows, "agreement", key, reader, "ground truth", k)
        for reader, k in s["reader_vs_model"].items():
            _kappa(rows, "agreement", key, reader, model, k)
        pairs = s["reader_pairs"]
        if not rows.nc("agreement", key, "readers", "readers", "cohen_kappa", pairs):
            for pair in pairs["pairs"]:
                _kappa(rows, "agreement", key, pair["a"], pair["b"], pair)
        _kappa(rows, "agreement", key, "readers", "readers", s["fleiss"], metric="fleiss_kappa")
    comp = report["comparisons"]
    for key, by_reader in comp["model_vs_reader"].items():
        for reader, pair in by_reader.items():
            _mcnemar(rows, "comparisons", key, model, reader, pair)
    avu = comp["aided_vs_unaided"]
    if not rows.nc("comparisons", "", "readers", "", "aided_vs_unaided", avu):
        for reader, pair in avu.items():
            _mcnemar(rows, "comparisons", "unaided vs aided", reader, reader, pair)
    mrmc = comp["mrmc"]
    if not rows.nc("mrmc", "", "readers", "", "obuchowski_rockette", mrmc):
        res = mrmc["result"]
        for reader, by_m in res["auc"].items():
            for modality, auc in by_m.items():
                rows.add("mrmc", modality, reader, "ground truth", "auc", value=auc, n=res["n_cases"])
        for modality, single in res["single_modality"].items():
            if not rows.nc("mrmc", modality, "readers (mean)", "", "auc", single):
                rows.add("mrmc", modality, "readers (mean)", "", "auc", value=single["auc"], ci=single["ci95"],
                         n=res["n_cases"], method="OR single-modality, random readers (Hillis df)")
        for test in ("rrrc", "frrc"):
            t = res[test]
            if rows.nc("mrmc", "", "readers", "", f"{test}_difference", t):
                continue
            for comparison in t["comparisons"]:
                rows.add("mrmc", f"{comparison['modality_a']} - {comparison['modality_b']}", "readers", "",
                         f"{test}_difference", value=comparison["difference"], ci=comparison["ci95"],
                         n=res["n_cases"], p=comparison["p"], method=res["method"])
    for key, entry in comp["model_vs_readers_auc"].items():
        if rows.nc("model_vs_readers", key, model, "readers", "auc_difference", entry):
            continue
        result = entry["result"]
        if rows.nc("model_vs_readers", key, model, "readers", "auc_difference", result):
            continue
        rows.add("model_vs_readers", key, model, "ground truth", "auc", value=result["model"]["auc"],
                 ci=result["model"]["ci95"], n=entry["n_cases"], method=result["model"]["method"])
        ci = result["readers_mean_ci95"]
        rows.add("model_vs_readers", key, "readers (mean)", "ground truth", "auc", ci if isinstance(ci, dict) else None,
                 value=None if isinstance(ci, dict) else result["readers_mean_auc"],
                 ci=ci if isinstance(ci, list) else None, n=entry["n_cases"])
        rrrc = result["rrrc"]
        if not rows.nc("model_vs_readers", key, model, "readers (mean)", "auc_difference", rrrc):
            rows.add("model_vs_readers", key, model, "readers (mean)", "auc_difference", value=rrrc["difference"],
                     ci=rrrc["ci95"], n=entry["n_cases"], p=rrrc["p"], method=result["method"])
    seg = report["segmentation"]
    if "vs_ground_truth" in seg:
        _segmentation(rows, "", model, "ground truth", seg["vs_ground_truth"]["model"])
        for key, by_reader in seg["vs_ground_truth"]["sessions"].items():
            for reader, packed in by_reader.items():
                _segmentation(rows, key, reader, "ground truth", packed)
        for key, by_pair in seg["between_readers"].items():
            for pair, packed in by_pair.items():
                a, _, b = pair.partition("|")
                _segmentation(rows, key, a, b, packed)
        for key, by_reader in seg["reader_vs_model_start"].items():
            for reader, packed in by_reader.items():
                _segmentation(rows, key, reader, f"{model} (mask the reader started from)", packed)
    return rows.rows


def statistics_csv(report: dict) -> str:
    buffer = io.StringIO()
    writer = csv_writer(buffer)
    writer.writerow(STATISTICS_COLUMNS)
    writer.writerows(statistics_rows(report))
    return buffer.getvalue()


# --- iMRMC ---------------------------------------------------------------------------------------


def imrmc_text(table: StudyTable) -> str:
    """Readers x modalities (unaided / aided) x cases with truth rows, in the iMRMC input format."""
    data, _, reason = mrmc_data(table)
    if data is None:
        raise ExportUnavailable(f"no iMRMC data: {reason}")
    try:
        return write_imrmc(data=data)
    except MrmcInputError as exc:
        raise ExportUnavailable(str(exc)) from exc


# --- masks ---------------------------------------------------------------------------------------


@contextlib.contextmanager
def _quiet_highdicom():
    """highdicom logs every copied module at INFO and warns about the pseudonymous one-word patient name."""
    logger = logging.getLogger("highdicom")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*unlikely to represent the intended person name.*")
            yield
    finally:
        logger.setLevel(level)


def _mask_items(table: StudyTable) -> list[dict]:
    items = []
    for case in table.cases:
        if case.model is not None:
            items.append({"case": case.code, "source": "model", "who": case.model.model,
                          "segmentation_id": case.model.segmentation_id, "name": "model"})
        if case.truth is not None and case.truth.segmentation_id is not None:
            items.append({"case": case.code, "source": "ground_truth", "who": f"v{case.truth.version}",
                          "segmentation_id": case.truth.segmentation_id, "slice_index": case.truth.slice_index,
                          "name": f"ground-truth-v{case.truth.version}"})
        for session, by_reader in case.reads.items():
            for reader, call in sorted(by_reader.items()):
                if call.segmentation_id is not None:
                    items.append({"case": case.code, "source": "reader", "who": reader, "session": session,
                                  "read_id": call.read_id, "segmentation_id": call.segmentation_id,
                                  "started_from_model_segmentation_id": call.started_from_model_segmentation_id,
                                  "name": f"reader-{reader}-{session}"})
    return items


def write_masks_zip(table: StudyTable, target: IO[bytes]) -> dict:
    """Write NIfTI (.nii.gz) and DICOM SEG (.dcm) of every model, reader and ground-truth mask; returns the manifest."""
    from inference.exports import segmentation_dicom_seg_bytes, segmentation_nifti_bytes
    from inference.models import Segmentation

    items = _mask_items(table)
    segs = Segmentation.objects.select_related("case", "model_version").in_bulk([i["segmentation_id"] for i in items])
    manifest: dict[str, Any] = {"study_id": table.study["id"], "study": table.study["name"], "files": [],
                                "skipped": [],
                                "note": "NIfTI: the case's working grid (RAS affine). DICOM SEG: on the source CT "
                                        "frames, referencing the de-identified CT series."}
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive, _quiet_highdicom():
        for item in items:
            seg = segs.get(item["segmentation_id"])
            stem = f"{item['case']}/{item['name']}-seg{item['segmentation_id']}"
            if seg is None:
                manifest["skipped"].append({**item, "reason": "segmentation not found"})
                continue
            archive.writestr(f"{stem}.nii.gz", segmentation_nifti_bytes(segmentation=seg))
            entry = {**item, "nifti": f"{stem}.nii.gz", "dicom_seg": None}
            if not hasattr(seg.case, "source_headers"):
                entry["dicom_seg_skipped"] = "no source CT headers stored for this case (DICOM SEG needs them)"
            else:
                try:
                    label = f"Tumour ({item['source']} {item['who']}) {item['case']}"
                    payload = segmentation_dicom_seg_bytes(segmentation=seg, series_description=label)
                    archive.writestr(f"{stem}.dcm", payload)
                    entry["dicom_seg"] = f"{stem}.dcm"
                except (ValueError, OSError, KeyError, AttributeError) as exc:
                    entry["dicom_seg_skipped"] = f"DICOM SEG could not be written: {exc}"
            manifest["files"].append(entry)
        archive.writestr("manifest.json", json.dumps(manifest, indent=2) + "\n")
    return manifest
