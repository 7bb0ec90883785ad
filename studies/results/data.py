"""Selectors that assemble one study's results table (Django side; the statistics are in report.py).

Per case (ordered by case code):

- ground truth: the latest *signed-off* version (a newer unsigned draft correction is ignored and
  flagged ``pending_correction``); cases without signed-off truth are kept in the table but are
  left out of every analysis against truth (listed under ``completeness.missing_truth``);
- the model's call: the newest finished run (``InferenceRun.status == "done"``) of the study's
  model version (see :func:`choose_model`), re-classified at the *study's* margin threshold from
  the stored closest margin distance: 0 mm (tumour at the surface) = positive, <= threshold =
  close, otherwise (or no tumour detected) negative;
- each reader's final call per reading session: the latest version (amendment) of the call;
- masks: the model's mask, each final call's reader mask (and the model mask it started from,
  when its parent chain leads to one), and the ground-truth outline with its slice index.

Scores for ROC analysis:

- model: minus the closest tumour-to-surface distance in mm (higher = more suspicious; a case
  with no tumour detected scores ``NO_TUMOUR_SCORE`` = -1000, below any measurable distance).
  The model's binary call is exactly "score >= -threshold";
- reader: an ordinal 1-10 scale from call and confidence: negative with confidence 5 -> 1,
  negative 1 -> 5, positive 1 -> 6, positive 5 -> 10 (a call counted positive by the study's
  positive categories is "positive"). The reader's binary call is exactly "score >= 6", so the
  reader's operating point lies on their empirical ROC curve.
"""

from __future__ import annotations

from collections import defaultdict

from django.db.models import Count, Max

from inference.engine.margins.result import status_for
from inference.models import ModelVersion, Segmentation
from inference.selectors import model_version_default, model_version_get
from studies.models import FACES, GroundTruth, Read, ReadingSession, ReadingUnit, Study
from studies.results.table import (
    CaseRow,
    ModelCall,
    ModelChoice,
    ReadCall,
    SessionInfo,
    StudyTable,
    TruthCall,
    is_positive,
    lamella_category_with_folds,
    lamella_model_slice,
    lamella_truth_status,
    model_category,
    model_category_with_folds,
    model_is_positive,
    model_score,
    reader_score,
)


def study_sessions(*, study: Study) -> list[SessionInfo]:
    """The study's sessions by number, keyed "unaided"/"aided" (MRMC modality names)."""
    rows = (ReadingSession.objects.filter(study=study).values("number", "aided").distinct().order_by("number"))
    plan = sorted({(r["number"], r["aided"]) for r in rows})
    if not plan:
        plan = [(1, False), (2, True)] if study.design == Study.Design.CROSSOVER else [
            (1, study.design == Study.Design.AIDED)]
    sessions, used = [], set()
    for number, aided in plan:
        key = "aided" if aided else "unaided"
        if key in used:
            key = f"session-{number}"
        used.add(key)
        sessions.append(SessionInfo(key=key, number=number, aided=aided))
    return sessions


def choose_model(*, study: Study, label: str | None = None) -> ModelChoice:
    """The model version whose results represent "the model" in this study.

    ``label`` ("name:version" or name) picks one explicitly. Otherwise the default model when it
    has finished runs on the study's cases; else the version with the most finished runs on them
    (newest first on ties); else none, with the reason.
    """
    case_ids = study.study_cases.values("case_id")
    done = ModelVersion.objects.filter(runs__case_id__in=case_ids, runs__status="done")
    if label:
        chosen = model_version_get(label=label)
        if chosen is None:
            return ModelChoice(None, None, f"requested model {label}", f"no registered model matches {label!r}")
        return ModelChoice(chosen.label, chosen.pk, f"requested model {chosen.label}")
    default = model_version_default()
    if default is not None and done.filter(pk=default.pk).exists():
        return ModelChoice(default.label, default.pk, "the default model, its latest finished run per case")
    best = (done.annotate(n=Count("runs__case", distinct=True)).order_by("-n", "-created_at", "-id").first())
    if best is not None:
        why = (f"the default model {default.label} has no finished run on these cases"
               if default is not None else "no default model is registered")
        return ModelChoice(best.label, best.pk, f"the model with the most finished runs on these cases; {why}")
    if default is None:
        return ModelChoice(None, None, "none", "no model is registered and no case has a finished model run")
    return ModelChoice(None, None, "none", f"no case of this study has a finished run of any model; "
                                           f"the default model is {default.label}")


def _origin_model(seg_id: int | None, segs: dict[int, dict]) -> int | None:
    """The model segmentation a mask descends from (via its parent chain), if any."""
    seen = 0
    current = segs.get(seg_id) if seg_id else None
    while current is not None and seen < 100:
        parent = segs.get(current["parent_id"]) if current["parent_id"] else None
        if parent is None:
            return None
        if parent["source"] == Segmentation.Source.MODEL:
            return parent["id"]
        current, seen = parent, seen + 1
    return None


def study_table(*, study: Study, model_label: str | None = None) -> StudyTable:
    """Everything the statistics need, read once from the database."""
    positive_categories = list(study.positive_categories)
    threshold = float(study.margin_threshold_mm)
    sessions = study_sessions(study=study)
    key_of = {s.number: s.key for s in sessions}
    readers = list(study.study_readers.order_by("reader__username").values_list("reader__username", flat=True))
    links = list(study.study_cases.select_related("case").order_by("case__code"))
    cases = [link.case for link in links]
    lamellae = study.reads_lamellae
    rows: dict[int, CaseRow] = {}  # by case id; lamella studies: by unit id
    if lamellae:
        for unit in ReadingUnit.objects.filter(study=study).select_related("case").order_by("label"):
            grid = unit.case.grid
            rows[unit.pk] = CaseRow(code=unit.label, case_id=unit.case_id, spacing_mm=tuple(grid.spacing),
                                    shape=tuple(grid.shape), case_code=unit.case.code, unit_id=unit.pk,
                                    slice_index=unit.slice_index)
    else:
        for case in cases:
            grid = case.grid
            rows[case.pk] = CaseRow(code=case.code, case_id=case.pk, spacing_mm=tuple(grid.spacing),
                                    shape=tuple(grid.shape), case_code=case.code)
    case_ids = [c.pk for c in cases]
    shapes = {c.pk: tuple(c.grid.shape) for c in cases}

    segs = {s["id"]: s for s in Segmentation.objects.filter(case_id__in=case_ids, is_draft=False).values(
        "id", "parent_id", "source", "case_id", "mask_file")}
    masks = {sid: (s["mask_file"], shapes[s["case_id"]]) for sid, s in segs.items()}

    # Ground truth: the latest signed-off version; note a newer unsigned correction.
    latest_version = dict(GroundTruth.objects.filter(case_id__in=case_ids).values("case_id")
                          .annotate(v=Max("version")).values_list("case_id", "v"))
    signed: dict[int, GroundTruth] = {}
    for gt in GroundTruth.objects.filter(case_id__in=case_ids, signed_off_at__isnull=False).order_by("case_id",
                                                                                                    "version"):
        signed[gt.case_id] = gt
    for row in rows.values():
        cid = row.case_id
        gt = signed.get(cid)
        if gt is None:
            row.truth_missing = ("ground truth not signed off yet" if cid in latest_version
                                 else "no ground truth recorded")
            continue
        status, slice_index, distance = gt.margin_status, gt.slice_index, gt.closest_distance_mm
        if row.unit_id is not None:
            status = lamella_truth_status(section_status=gt.section_status, outlined_slice=gt.slice_index,
                                          margin_status=gt.margin_status, slice_index=row.slice_index)
            if status is None:
                row.truth_missing = (f"the signed-off ground truth names no pathology status for slice "
                                     f"{row.slice_index} (outlined slice {gt.slice_index}; no section status)")
                continue
            slice_index = row.slice_index
            distance = distance if gt.slice_index == row.slice_index else None
        row.truth = TruthCall(
            ground_truth_id=gt.pk, version=gt.version, status=status,
            positive=is_positive(status, positive_categories), closest_distance_mm=distance,
            face_status={f: v for f, v in (gt.face_status or {}).items() if f in FACES},
            segmentation_id=gt.segmentation_id, slice_index=slice_index,
            signed_off_at=gt.signed_off_at.isoformat(), pending_correction=latest_version.get(cid, 0) > gt.version)

    # The model's call.
    choice = choose_model(study=study, label=model_label)
    if choice.model_version_id is None:
        for row in rows.values():
            row.model_missing = choice.reason
    else:
        latest: dict[int, Segmentation] = {}
        model_segs = (Segmentation.objects.filter(case_id__in=case_ids, source=Segmentation.Source.MODEL,
                                                  model_version_id=choice.model_version_id,
                                                  inference_run__status="done")
                      .select_related("margin", "inference_run").order_by("created_at", "id"))
        for seg in model_segs:
            latest[seg.case_id] = seg
        for row in rows.values():
            seg = latest.get(row.case_id)
            margin = getattr(seg, "margin", None) if seg is not None else None
            if seg is None:
                row.model_missing = f"no finished run of {choice.label} on this case"
                continue
            if margin is None:
                row.model_missing = f"the run of {choice.label} stored no margin result"
                continue
            if row.unit_id is not None:
                model = _lamella_model_call(seg=seg, margin=margin, row=row, label=choice.label or "",
                                            threshold=threshold, positive_categories=positive_categories,
                                            indeterminate_counts_as=study.indeterminate_counts_as)
                if model.status == "indeterminate" and study.indeterminate_counts_as == "excluded":
                    row.model_missing = ("the model's call on this slice is indeterminate (its folds disagree about "
                                         "the threshold) and this study excludes indeterminate calls")
                else:
                    row.model = model
                continue
            if margin.closest_margin_mm is None and margin.status != "no_tumour_detected":
                row.model_missing = f"the model's margin status is '{margin.status}' without a distance"
                continue
            distances = {f: (None if d is None else float(d)) for f, d in (margin.faces or {}).items() if f in FACES}
            folds = list((margin.detail or {}).get("folds") or [])
            status = model_category_with_folds(margin.closest_margin_mm, threshold,
                                               [f.get("closest_mm") for f in folds])
            if status == "indeterminate" and study.indeterminate_counts_as == "excluded":
                row.model_missing = ("the model's call is indeterminate (its folds disagree about the threshold) "
                                     "and this study excludes indeterminate calls")
                continue
            row.model = ModelCall(
                segmentation_id=seg.pk, run_id=seg.inference_run_id, model=choice.label or "",
                closest_mm=margin.closest_margin_mm, status=status,
                positive=model_is_positive(status, positive_categories, study.indeterminate_counts_as),
                score=model_score(margin.closest_margin_mm),
                faces={f: model_category(d, threshold) for f, d in distances.items() if d is not None},
                face_distances_mm=distances, run_status=margin.status, run_threshold_mm=margin.threshold_mm,
                interval_mm=margin.interval_mm, folds=folds)

    # Reads: every version for the export; the latest version per reader, session and case for the stats.
    all_reads: list[dict] = []
    final: dict[tuple[int, str, int], Read] = {}
    counts: dict[tuple[int, str, int], int] = defaultdict(int)
    reads = list(Read.objects.filter(study=study, session__isnull=False)
                 .select_related("reader", "session", "case").order_by("case__code", "reader__username",
                                                                        "session__number", "version", "id"))
    item = (lambda r: r.unit_id) if lamellae else (lambda r: r.case_id)
    for read in reads:
        key = (item(read), read.reader.get_username(), read.session.number)
        counts[key] += 1
        if key not in final or read.version > final[key].version:
            final[key] = read
    for read in reads:
        key = (item(read), read.reader.get_username(), read.session.number)
        unit_row = rows.get(read.unit_id) if lamellae else None
        all_reads.append({
            "case": unit_row.code if unit_row else read.case.code, "case_code": read.case.code,
            "unit": unit_row.code if unit_row else "", "slice_index": unit_row.slice_index if unit_row else None,
            "reader": key[1], "session": read.session.number,
            "session_key": key_of.get(read.session.number, f"session-{read.session.number}"),
            "aided": read.aided, "read_id": read.pk, "version": read.version, "amends": read.amends_id,
            "final": final[key].pk == read.pk, "status": read.status,
            "positive": is_positive(read.status, positive_categories), "confidence": read.confidence,
            "score": reader_score(positive=is_positive(read.status, positive_categories),
                                  confidence=read.confidence),
            "face_calls": read.face_calls or {}, "time_spent_s": read.time_spent_s,
            "segmentation_id": read.segmentation_id,
            "opened_at": read.opened_at.isoformat() if read.opened_at else None,
            "submitted_at": read.submitted_at.isoformat(), "comment": read.comment,
        })
    for (cid, reader, number), read in final.items():
        skey = key_of.get(number)
        if skey is None or cid not in rows:
            continue
        positive = is_positive(read.status, positive_categories)
        rows[cid].reads.setdefault(skey, {})[reader] = ReadCall(
            read_id=read.pk, version=read.version, status=read.status, positive=positive,
            confidence=read.confidence, score=reader_score(positive=positive, confidence=read.confidence),
            face_calls={f: v for f, v in (read.face_calls or {}).items() if f in FACES},
            segmentation_id=read.segmentation_id,
            started_from_model_segmentation_id=_origin_model(read.segmentation_id, segs),
            aided=read.aided, submitted_at=read.submitted_at.isoformat())

    summary = {
        "id": study.pk, "name": study.name, "design": study.design, "status": study.status,
        "margin_threshold_mm": threshold, "positive_categories": positive_categories,
        "indeterminate_counts_as": study.indeterminate_counts_as,
        "washout_days": study.washout_days, "seed": study.seed, "readers": readers,
        "cases": [c.code for c in cases], "reading_unit": study.reading_unit, "allow_context": study.allow_context,
        "units": [{"unit": r.code, "case": r.case_code, "slice_index": r.slice_index} for r in rows.values()]
        if lamellae else [],
    }
    ordered = list(rows.values()) if lamellae else [rows[c.pk] for c in cases]
    return StudyTable(study=summary, sessions=sessions, readers=readers, cases=ordered,
                      model=choice, masks=masks, all_reads=all_reads)


def _lamella_model_call(*, seg: Segmentation, margin, row: CaseRow, label: str, threshold: float,
                        positive_categories: list[str], indeterminate_counts_as: str) -> ModelCall:
    """The model's in-plane call on the unit's slice (no entry for the slice: no tumour there, negative);
    indeterminate when the folds' in-plane calls there disagree (slices stored with fold margins only)."""
    entry = lamella_model_slice(margin.per_slice, row.slice_index) or {}
    distance = None if entry.get("distance_mm") is None else float(entry["distance_mm"])
    fold_distances = list(entry.get("fold_distances_mm") or [])
    status = lamella_category_with_folds(distance, threshold, fold_distances)
    folds = [{"fold": index, "closest_mm": d,
              "status": "negative" if d is None else status_for(d, margin.threshold_mm)}
             for index, d in enumerate(fold_distances)]
    interval = entry.get("interval_mm")
    return ModelCall(segmentation_id=seg.pk, run_id=seg.inference_run_id, model=label, closest_mm=distance,
                     status=status, positive=model_is_positive(status, positive_categories, indeterminate_counts_as),
                     score=model_score(distance), faces={}, face_distances_mm={}, run_status=margin.status,
                     run_threshold_mm=margin.threshold_mm, interval_mm=list(interval) if interval else None,
                     folds=folds)


def mask_loader(table: StudyTable):
    """A function segmentation id -> uint8 mask array (the case's working grid)."""
    from cases.volume_store import load_array

    def load(segmentation_id: int):
        name, shape = table.masks[segmentation_id]
        return load_array(name=name, dtype="uint8", shape=shape)

    return load
