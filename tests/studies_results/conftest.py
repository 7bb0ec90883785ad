"""Fixtures for the study-results tests: users, tiny cases and a crossover study built with the services.

Cases are tiny rows on a small anisotropic working grid (no DICOM); the statistics never need
pixels except the masks, which are stored like real ones. ``Design`` keeps every value the study
was built from, so tests can recompute the statistics directly with studies.stats.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np

from cases.imaging.volume import Grid
from cases.models import Case, CaseVolume
from cases.volume_store import store_array
from inference.maskcodec import ENCODING, encode_rle
from inference.models import InferenceRun, MarginResult, ModelVersion, Segmentation
from inference.reader_masks import segmentation_save
from studies.services import (
    ground_truth_record,
    ground_truth_sign_off,
    read_amend,
    read_submit,
    study_create,
)

SHAPE = (4, 6, 8)
SPACING = (1.0, 0.5, 0.4)
_codes = itertools.count(1)


def make_case() -> Case:
    code = f"PC-R{next(_codes):05d}"
    grid = Grid(shape=SHAPE, spacing=SPACING, origin=(0.0, 0.0, 0.0))
    case = Case.objects.create(
        code=code, patient_key=f"p-{code}", study_key=f"s-{code}", source=Case.Source.IMPORT,
        ct_acquired=grid.to_dict(), pet_acquired=grid.to_dict(), working_grid=grid.to_dict(), pet_units="BQML",
        suv_factor=None, suv_unavailable_reason="test case",
    )
    for kind, array in {"ct": np.zeros(SHAPE, np.int16), "specimen": np.ones(SHAPE, np.uint8)}.items():
        name, sha, size = store_array(array=array, name=f"volumes/{code}/{kind}.raw.gz")
        CaseVolume.objects.create(case=case, kind=kind, file=name, dtype=str(array.dtype), shape=list(SHAPE),
                                  sha256=sha, size_bytes=size)
    return case


def make_model_result(case: Case, *, closest_mm: float | None, faces: dict | None = None,
                      mask: np.ndarray | None = None, model: ModelVersion | None = None) -> Segmentation:
    """A finished model run with its mask and margin (no network)."""
    if model is None:
        model, _ = ModelVersion.objects.get_or_create(name="fake", version="1", defaults={
            "architecture": "none", "config": {}, "bundle_dir": "fake", "is_default": True})
    run = InferenceRun.objects.create(case=case, model_version=model, status="done", progress=100.0, threshold_mm=1.0)
    if mask is None:
        mask = np.zeros(case.grid.shape, np.uint8)
        if closest_mm is not None:
            mask[1:3, 1:4, 2:6] = 1
    name, _, _ = store_array(array=mask.astype(np.uint8), name=f"masks/{case.code}/model-run{run.pk}.raw.gz")
    seg = Segmentation.objects.create(case=case, source="model", model_version=model, inference_run=run,
                                      mask_file=name, voxel_count=int(mask.sum()))
    status = "no_tumour_detected" if closest_mm is None else ("positive" if closest_mm <= 1.0 else "negative")
    MarginResult.objects.create(segmentation=seg, threshold_mm=1.0, status=status, closest_margin_mm=closest_mm,
                                faces=faces or {})
    return seg


def save_mask(case: Case, author, source: str, mask: np.ndarray, parent_id=None) -> Segmentation:
    return segmentation_save(case=case, author=author, source=source, shape=list(mask.shape), encoding=ENCODING,
                             data=encode_rle(mask.astype(np.uint8)), parent_id=parent_id)


def box(k0, k1, j0, j1, i0, i1) -> np.ndarray:
    mask = np.zeros(SHAPE, bool)
    mask[k0:k1, j0:j1, i0:i1] = True
    return mask


@dataclass
class Design:
    study: object
    cases: list
    readers: list[str]
    truth: dict[str, str | None] = field(default_factory=dict)  # code -> category used (None: no signed-off truth)
    model_mm: dict[str, float | None] = field(default_factory=dict)
    calls: dict[tuple[str, str, str], tuple[str, int]] = field(default_factory=dict)  # (session, reader, code)
    truth_faces: dict[str, dict] = field(default_factory=dict)
    model_faces: dict[str, dict] = field(default_factory=dict)
    face_calls: dict[tuple[str, str, str], dict] = field(default_factory=dict)
    masks: dict = field(default_factory=dict)  # ("truth"|"model"|(session, reader), code) -> array
    slices: dict[str, int] = field(default_factory=dict)
    started_from_model: set = field(default_factory=set)  # (session, reader, code)


# Signed-off truth per case; None = no signed-off truth; "pending" = signed negative, newer draft positive.
TRUTH = ["positive", "close", "negative", "negative", "positive", "negative", "close", "negative", None, "pending"]
TRUTH_MM = [0.0, 0.5, 3.0, 2.0, 0.0, 4.0, 0.7, 1.5, 2.2, 2.5]
MODEL_MM = [0.0, 0.6, 3.0, 0.8, 2.5, 5.0, 0.3, 4.0, 1.2, None]
TRUTH_FACES = {0: {"+x": "positive", "-x": "negative"}, 2: {"+y": "negative", "-z": "negative"},
               4: {"+z": "positive", "-y": "negative"}}
MODEL_FACES = {0: {"+x": 0.0, "-x": 3.0}, 2: {"+y": 4.0, "-z": 0.9}, 4: {"+z": 1.5, "-y": 2.0}}


def truth_distance(status: str, mm: float) -> float:
    if status == "positive":
        return 0.0
    if status == "close":
        return mm if 0 < mm <= 1 else 0.5
    return mm if mm > 1 else 2.0


def build_crossover(users, *, readers=("reader1", "reader2", "reader3"), n_cases: int = 10, with_model=True,
                    with_masks=True, seed: int = 123, truth=None) -> Design:
    """A crossover study with final calls drawn from a seeded rng, amendments, faces, masks and truth."""
    truth = TRUTH if truth is None else truth
    rng = np.random.default_rng(seed)
    cases = [make_case() for _ in range(n_cases)]
    codes = [c.code for c in cases]
    admin, pathologist = users["study_admin"], users["pathologist"]
    people = {u.username: u for u in users.values()}
    study = study_create(user=admin, name=f"Results {seed} {codes[0]}", design="crossover", case_codes=codes,
                         reader_usernames=list(readers), washout_days=0, seed=seed, enforce_order=False)
    design = Design(study=study, cases=cases, readers=sorted(readers))
    model_segs = {}
    for i, case in enumerate(cases):
        if with_model:
            mask = box(1, 3, 1, 4, 2, 6) if MODEL_MM[i] is not None else np.zeros(SHAPE, bool)
            model_segs[case.code] = make_model_result(case, closest_mm=MODEL_MM[i], faces=MODEL_FACES.get(i),
                                                      mask=mask)
            design.model_mm[case.code] = MODEL_MM[i]
            design.masks[("model", case.code)] = mask
            design.model_faces[case.code] = MODEL_FACES.get(i, {})
    for session in ("unaided", "aided"):
        for reader in readers:
            user = people[reader]
            for i, case in enumerate(cases):
                t = "negative" if truth[i] == "pending" else truth[i]  # the signed-off version is negative
                right = rng.random() < (0.75 if session == "unaided" else 0.9)
                if t is None:
                    positive = bool(rng.random() < 0.5)
                else:
                    positive = (t in ("positive", "close")) == right
                status = (str(rng.choice(["positive", "close"])) if positive else "negative")
                confidence = int(rng.integers(1, 6))
                faces = {}
                if i in TRUTH_FACES:
                    faces = {f: str(rng.choice(["positive", "close", "negative"])) for f in TRUTH_FACES[i]}
                seg_id = None
                if with_masks and i < 4:
                    if session == "aided" and with_model:
                        mask = design.masks[("model", case.code)].copy()
                        mask[1, 1:4, 6] = True  # the reader grows the model's mask by a column
                        seg_id = save_mask(case, user, "reader", mask, parent_id=model_segs[case.code].pk).pk
                        design.started_from_model.add((session, reader, case.code))
                    else:
                        mask = box(1, 3, 2, 5, 1 + i % 2, 5 + i % 2)
                        seg_id = save_mask(case, user, "reader", mask).pk
                    design.masks[((session, reader), case.code)] = mask
                first_status = "negative" if status != "negative" else "close"
                amend = (reader == readers[0] and i in (0, 2))
                read = read_submit(user=user, case=case, status=first_status if amend else status,
                                   confidence=confidence if not amend else 3, face_calls=faces, time_spent_s=10,
                                   segmentation_id=seg_id)
                if amend:  # the final call is the amendment (twice for case 2)
                    if i == 2:
                        read = read_amend(user=user, case=case, read_id=read.pk, status=first_status, confidence=2,
                                          time_spent_s=12, segmentation_id=seg_id)
                    read_amend(user=user, case=case, read_id=read.pk, status=status, confidence=confidence,
                               face_calls=faces, time_spent_s=14, segmentation_id=seg_id)
                design.calls[(session, reader, case.code)] = (status, confidence)
                if faces:
                    design.face_calls[(session, reader, case.code)] = faces
    for i, case in enumerate(cases):
        t = truth[i]
        seg_id, k = None, None
        if with_masks and t not in (None, "pending"):
            k = 1 + i % 2
            outline = np.zeros(SHAPE, bool)
            outline[k, 1:4, 2:5 + i % 3] = True
            seg_id = save_mask(case, pathologist, "ground_truth", outline).pk
            design.masks[("truth", case.code)] = outline
            design.slices[case.code] = k
        status = "negative" if t in (None, "pending") else t
        faces = {f: v for f, v in TRUTH_FACES.get(i, {}).items() if status == "positive" or v != "positive"}
        gt = ground_truth_record(user=pathologist, case=case, margin_status=status,
                                 closest_distance_mm=truth_distance(status, TRUTH_MM[i]),
                                 face_status=faces, segmentation_id=seg_id, slice_index=k)
        if t is None:
            design.truth[case.code] = None  # left as an unsigned draft
            continue
        ground_truth_sign_off(user=pathologist, ground_truth=gt)
        design.truth[case.code] = status
        if t == "pending":
            ground_truth_record(user=pathologist, case=case, margin_status="positive", closest_distance_mm=0.0,
                                correction_reason="re-cut shows ink on tumour")
        if faces:
            design.truth_faces[case.code] = faces
    return design
