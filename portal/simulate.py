"""A simulated reader study on generated phantoms, built through the product's own services.

Steps (every write goes through the services, so it is validated and audited like real use):

1. generate ``cases`` small phantoms (:func:`cases.phantoms.generate_phantoms`) and import each
   (:func:`cases.services.case_import`);
2. the model: ``model="default"`` runs the registered default model synchronously on every case
   (:func:`inference.services.inference_run_execute`), or records that there is none;
   ``model="simulated"`` (opt-in) stores a clearly labelled simulated model output instead: the
   phantom's true tumour mask on the working grid, randomly dilated / eroded / shifted by one voxel,
   with its margins measured by the real margin engine (``inference.engine.margins``); ``"none"``
   skips the model;
3. a study (crossover by default) with ``readers`` simulated readers who read every case in their
   worklist order (the washout is ended early with ``reading_session_schedule``);
4. the pathologist's ground truth from the phantom truth: margin status at the study threshold
   (0 mm = positive, <= threshold = close, else negative), closest distance, per-face status, and
   the tumour outline on the axial slice with the largest tumour area; signed off.

Reader model (seeded): a latent suspicion z = d * truth + case difficulty + noise, called positive
when z > t; "close" just above t, "positive" further above; confidence from |z - t|. Each reader
has their own d and t; aided reading raises d (about +0.6) and pulls z towards the model's call.
Unaided: sensitivity and specificity around 85%; aided: around 90-93%. Masks: unaided readers
draw the true tumour with random boundary errors; aided readers start from the model's mask
(parent = the model segmentation) and correct part of its error.
"""

from __future__ import annotations

import json
import math
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import nibabel as nib
import numpy as np
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone
from scipy import ndimage

from cases.imaging.volume import Grid
from cases.models import Case
from inference.maskcodec import ENCODING, encode_rle
from inference.models import Segmentation
from petctweb.errors import DomainError
from petctweb.roles import PATHOLOGIST, READER, STUDY_ADMIN
from studies.models import ReadingSession, Study

ADMIN = "sim-admin"
PATHOLOGIST_USER = "sim-pathologist"
READER_PREFIX = "sim-reader-"
SIMULATED_MODEL_NAME = "simulated-model"
Progress = Callable[[str], None]


@dataclass
class SimulationResult:
    study: Study
    case_codes: list[str]
    model: str | None
    model_note: str
    readers: list[str]
    reads: int = 0
    amendments: int = 0
    notes: list[str] = field(default_factory=list)


def _user(username: str, role: str):
    User = get_user_model()
    user, created = User.objects.get_or_create(username=username)
    if created:
        user.set_unusable_password()
        user.save()
    user.groups.add(Group.objects.get_or_create(name=role)[0])
    return user


def _category(distance: float | None, threshold: float) -> str | None:
    if distance is None:
        return None
    if distance <= 1e-6:
        return "positive"
    return "close" if distance <= threshold + 1e-6 else "negative"


def _truth_mask(case: Case, truth_dir: Path, truth: dict) -> np.ndarray:
    """The phantom's tumour mask (CT grid) resampled onto the case's working grid (nearest neighbour)."""
    from inference.engine.exports import labels_to_grid

    image = nib.load(str(truth_dir / "tumour_mask.nii.gz"))
    labels = np.asarray(image.dataobj).astype(np.uint8).transpose(2, 1, 0)  # NIfTI (i, j, k) -> (k, j, i)
    source = Grid.from_dict(case.ct_acquired)
    if tuple(source.shape) != labels.shape:
        source = Grid.from_dict(truth["ct_grid"])
    return labels_to_grid(labels=labels, source_grid=source, target_grid=case.grid).astype(bool)


def _perturb(mask: np.ndarray, rng: np.random.Generator, *, max_iter: int = 2, shift: bool = True) -> np.ndarray:
    if not mask.any():
        return mask.copy()
    out = mask.copy()
    n = int(rng.integers(0, max_iter + 1))
    if n:
        op = ndimage.binary_dilation if rng.random() < 0.55 else ndimage.binary_erosion
        changed = op(out, iterations=n)
        out = changed if changed.any() else out
    if shift and rng.random() < 0.4:
        axis = int(rng.integers(1, 3))
        out = np.roll(out, int(rng.choice([-1, 1])), axis=axis)
    return out


def _save_mask(*, case: Case, author, source: str, mask: np.ndarray, parent_id: int | None = None) -> Segmentation:
    from inference.reader_masks import segmentation_save

    return segmentation_save(case=case, author=author, source=source, shape=list(mask.shape), encoding=ENCODING,
                             data=encode_rle(mask.astype(np.uint8)), parent_id=parent_id)


def _simulated_model_result(*, case: Case, truth_mask: np.ndarray, rng: np.random.Generator, model_version,
                            threshold_mm: float) -> Segmentation:
    """A model output made from the true mask with random one-voxel errors; margins by the real engine."""
    from cases.selectors import case_volume_array
    from cases.volume_store import store_array
    from inference.engine.margins import analyse_margins
    from inference.engine.pipeline import summarise_margin
    from inference.models import InferenceRun, MarginResult

    draw = rng.random()
    mask = truth_mask.copy()
    if draw < 0.05:  # now and then the model misses the tumour entirely
        mask = np.zeros_like(mask)
    elif draw < 0.45:  # the network tends to over-segment the FDG-avid rim
        mask = ndimage.binary_dilation(mask, iterations=1)
    elif draw < 0.65:
        eroded = ndimage.binary_erosion(mask, iterations=1)
        mask = eroded if eroded.any() else mask
    specimen = case_volume_array(case=case, kind="specimen").astype(bool)
    grid = case.grid
    margin = analyse_margins(tumour_mask=mask, specimen_mask=specimen, spacing=grid.spacing, grid=grid,
                             threshold_mm=threshold_mm).to_dict()
    summary = summarise_margin(margin)
    now = timezone.now()
    run = InferenceRun.objects.create(case=case, model_version=model_version, status=InferenceRun.Status.DONE,
                                      progress=100.0, message=f"simulated: margin {summary['status']}",
                                      threshold_mm=threshold_mm, device="simulation", started_at=now, finished_at=now)
    name, _, _ = store_array(array=mask.astype(np.uint8), name=f"masks/{case.code}/simulated-run{run.pk}-mask.raw.gz")
    segmentation = Segmentation.objects.create(case=case, source=Segmentation.Source.MODEL,
                                               model_version=model_version, inference_run=run, mask_file=name,
                                               voxel_count=int(mask.sum()))
    MarginResult.objects.create(
        segmentation=segmentation, threshold_mm=threshold_mm, status=summary["status"],
        closest_margin_mm=summary["closest_margin_mm"], faces=summary["faces"], per_slice=margin.get("slices") or [],
        closest_point=summary["closest_point"], tumour_volume_ml=summary["tumour_volume_ml"],
        suv_max=summary["suv_max"], suv_mean=summary["suv_mean"],
        detail={k: v for k, v in margin.items() if k != "slices"})
    return segmentation


def _run_default_model(case: Case, admin, threshold_mm: float) -> tuple[Segmentation | None, str]:
    from inference.selectors import model_version_default
    from inference.services import inference_run_execute, inference_run_request

    model_version = model_version_default()
    if model_version is None:
        return None, "no default model registered"
    run = inference_run_request(case=case, model_version=model_version, user=admin, threshold_mm=threshold_mm)
    outcome = inference_run_execute(run_id=run.pk)
    run.refresh_from_db()
    if run.status != "done":
        return None, f"the run of {model_version.label} on {case.code} ended '{run.status}' ({outcome}): {run.message}"
    return Segmentation.objects.filter(inference_run=run).select_related("margin").first(), ""


@dataclass
class _Reader:
    user: object
    d_unaided: float
    d_aided: float
    t: float


def _call(rng: np.random.Generator, *, reader: _Reader, truth_positive: bool, difficulty: float, aided: bool,
          model_positive: bool | None) -> tuple[str, int]:
    d = reader.d_aided if aided else reader.d_unaided
    z = d * truth_positive + difficulty + rng.normal(0.0, math.sqrt(0.75))
    if aided and model_positive is not None:
        z += 0.25 * d * (1 if model_positive else -1)  # the model's call pulls the reader
    margin = z - reader.t
    status = "negative" if margin <= 0 else ("close" if margin <= 0.9 else "positive")
    confidence = int(1 + min(4, abs(margin) // 0.35))
    return status, confidence


def _face_calls(rng: np.random.Generator, truth_faces: dict[str, str], aided: bool) -> dict[str, str]:
    calls = {}
    for face, status in truth_faces.items():
        if rng.random() < (0.9 if aided else 0.85):
            calls[face] = status
        else:
            calls[face] = "negative" if status != "negative" else str(rng.choice(["close", "positive"]))
    return calls


def simulate_study(*, readers: int, cases: int, seed: int, design: str = "crossover", size: str = "small",
                   model: str = "default", threshold_mm: float = 1.0, work_dir: Path | None = None,
                   name: str | None = None, progress: Progress | None = None) -> SimulationResult:
    from cases.phantoms.generator import generate_phantoms
    from cases.services import case_import
    from studies.services import (
        ground_truth_record,
        ground_truth_sign_off,
        read_amend,
        read_submit,
        reading_session_schedule,
        study_create,
    )

    say = progress or (lambda _message: None)
    if readers < 1 or cases < 1:
        raise DomainError("simulate at least one reader and one case", code="invalid")
    if design not in Study.Design.values:
        raise DomainError(f"unknown design '{design}'", code="invalid")
    if model not in ("default", "simulated", "none"):
        raise DomainError("model is 'default', 'simulated' or 'none'", code="invalid")
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0x51D]))
    admin = _user(ADMIN, STUDY_ADMIN)
    pathologist = _user(PATHOLOGIST_USER, PATHOLOGIST)
    people = [_user(f"{READER_PREFIX}{i + 1}", READER) for i in range(readers)]

    with tempfile.TemporaryDirectory(prefix="petctweb-sim-") as scratch:
        root = Path(work_dir) if work_dir else Path(scratch)
        say(f"generating {cases} {size} phantom(s) with seed {seed} in {root} …")
        summaries = generate_phantoms(out_dir=root, n=cases, seed=seed, size=size)
        imported: list[tuple[Case, dict, Path]] = []
        for summary in summaries:
            try:
                items = case_import(path=summary.path, source=Case.Source.IMPORT, user=admin)
            except DomainError as exc:
                if exc.code == "duplicate_study":
                    raise DomainError(f"the phantoms of seed {seed} were imported before ({exc.message}); use "
                                      "another --seed or a fresh database", code="duplicate_study") from exc
                raise
            truth = json.loads((summary.path / "truth" / "truth.json").read_text())
            imported.append((items[0].case, truth, summary.path / "truth"))
            say(f"imported {summary.case_id} as case {items[0].case.code}")
        truth_masks = {case.pk: _truth_mask(case, tdir, truth) for case, truth, tdir in imported}

    # The model.
    model_segs: dict[int, Segmentation] = {}
    model_label, model_note = None, ""
    if model == "default":
        for case, _, _ in imported:
            seg, why = _run_default_model(case, admin, threshold_mm)
            if seg is None:
                model_note = why
                if why == "no default model registered":
                    break
                continue
            model_segs[case.pk] = seg
            model_label = seg.model_version.label
            say(f"model {model_label} on {case.code}: {seg.margin.status} ({seg.margin.closest_margin_mm} mm)")
        if not model_segs and not model_note:
            model_note = "the default model produced no result"
    elif model == "simulated":
        from inference.models import ModelVersion

        version, _ = ModelVersion.objects.get_or_create(
            name=SIMULATED_MODEL_NAME, version=f"seed-{seed}",
            defaults={"architecture": "simulation: true mask with random one-voxel errors (not a network)",
                      "config": {}, "bundle_dir": "", "training_description": {"simulated": True}})
        model_label = version.label
        model_rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0xA1]))
        for case, _, _ in imported:
            model_segs[case.pk] = _simulated_model_result(case=case, truth_mask=truth_masks[case.pk], rng=model_rng,
                                                          model_version=version, threshold_mm=threshold_mm)
        model_note = "simulated model output (not a trained network)"
    else:
        model_note = "model skipped (--model none)"

    # The study.
    codes = [case.code for case, _, _ in imported]
    base = name or f"Simulated {design} study (seed {seed}, {cases} cases, {readers} readers)"
    study_name, n = base, 1
    while Study.objects.filter(name=study_name).exists():
        n += 1
        study_name = f"{base} #{n}"
    study = study_create(user=admin, name=study_name, design=design, case_codes=codes,
                         reader_usernames=[p.get_username() for p in people], margin_threshold_mm=threshold_mm,
                         seed=seed, description="Simulated readers on generated phantoms (simulate_study).")
    result = SimulationResult(study=study, case_codes=codes, model=model_label, model_note=model_note,
                              readers=[p.get_username() for p in people])

    # Truth per case (categories at the study threshold).
    truth_info = {}
    for case, truth, _ in imported:
        status = _category(float(truth["closest_margin_mm"]), threshold_mm)
        faces = {f: _category(d, threshold_mm) for f, d in (truth.get("face_margins_mm") or {}).items()}
        truth_info[case.pk] = {"status": status, "distance": float(truth["closest_margin_mm"]),
                               "faces": {f: s for f, s in faces.items() if s is not None},
                               "difficulty": float(rng.normal(0.0, 0.5)) - (0.4 if status == "close" else 0.0)}

    # Readers.
    sims = []
    for user in people:
        d = float(rng.normal(2.3, 0.25))
        sims.append(_Reader(user=user, d_unaided=d, d_aided=d + float(rng.normal(0.6, 0.15)),
                            t=d / 2 + float(rng.normal(0.0, 0.2))))
    by_pk = {case.pk: case for case, _, _ in imported}
    positive_categories = set(study.positive_categories)
    for number in sorted(set(study.sessions.values_list("number", flat=True))):
        for sim in sims:
            session = ReadingSession.objects.get(study=study, reader=sim.user, number=number)
            if session.opens_at is None or session.opens_at > timezone.now():
                reading_session_schedule(session=session, user=admin, opens_at=timezone.now())
            for assignment in session.assignments.order_by("position"):
                case = by_pk[assignment.case_id]
                info = truth_info[case.pk]
                seg_model = model_segs.get(case.pk)
                model_positive = None
                if seg_model is not None and session.aided:
                    distance = seg_model.margin.closest_margin_mm
                    model_positive = distance is not None and distance <= threshold_mm + 1e-6
                status, confidence = _call(rng, reader=sim, truth_positive=info["status"] in positive_categories,
                                           difficulty=info["difficulty"], aided=session.aided,
                                           model_positive=model_positive)
                truth_mask = truth_masks[case.pk]
                if session.aided and seg_model is not None:
                    from inference.exports import segmentation_mask

                    start = segmentation_mask(seg_model).astype(bool)
                    if rng.random() < 0.3:
                        mask, parent = start, seg_model.pk
                    else:
                        fixed = (start | _perturb(truth_mask, rng, max_iter=1, shift=False))
                        mask, parent = fixed & ndimage.binary_dilation(truth_mask, iterations=2), seg_model.pk
                        if not mask.any():
                            mask = start
                else:
                    mask, parent = _perturb(truth_mask, rng, max_iter=1 if session.aided else 2), None
                seg = _save_mask(case=case, author=sim.user, source="reader", mask=mask, parent_id=parent)
                read = read_submit(user=sim.user, case=case, status=status, confidence=confidence,
                                   face_calls=_face_calls(rng, info["faces"], session.aided),
                                   time_spent_s=float(rng.uniform(20, 180)), segmentation_id=seg.pk,
                                   comment="simulated")
                result.reads += 1
                if rng.random() < 0.05:  # second thoughts: amend the call
                    flipped = "negative" if status != "negative" else "close"
                    read_amend(user=sim.user, case=case, read_id=read.pk, status=flipped,
                               confidence=max(1, confidence - 1), face_calls=read.face_calls,
                               time_spent_s=read.time_spent_s + 15, segmentation_id=seg.pk,
                               comment="simulated amendment")
                    result.amendments += 1
            say(f"{sim.user.get_username()} finished session {number}")

    # Ground truth, signed off.
    for case, _, _ in imported:
        info = truth_info[case.pk]
        truth_mask = truth_masks[case.pk]
        areas = truth_mask.reshape(truth_mask.shape[0], -1).sum(axis=1)
        segmentation_id, slice_index = None, None
        if areas.max() > 0:
            slice_index = int(np.argmax(areas))
            outline = np.zeros_like(truth_mask)
            outline[slice_index] = truth_mask[slice_index]
            segmentation_id = _save_mask(case=case, author=pathologist, source="ground_truth", mask=outline).pk
        gt = ground_truth_record(
            user=pathologist, case=case, margin_status=info["status"],
            closest_distance_mm=0.0 if info["status"] == "positive" else info["distance"], face_status=info["faces"],
            tumour_type="invasive carcinoma NST (simulated)", segmentation_id=segmentation_id,
            slice_index=slice_index, notes="from the phantom's truth.json")
        ground_truth_sign_off(user=pathologist, ground_truth=gt)
    say("ground truth recorded and signed off")
    return result
