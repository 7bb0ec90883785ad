"""A demonstration of the published design on generated data: a lamella study ready for people to read.

Generated patients (small phantoms), each giving one lamella: the axial slice where the pathologist's
section is cut. For a margin-positive patient that is the slice where the tumour reaches the specimen
surface most (so the section is margin-positive); otherwise the slice with the largest tumour area
(margin-negative). The pathologist's ground truth (status, outline on that slice, slice index) is
recorded and signed off; seven reader accounts are created; no call is made.
"""

from __future__ import annotations

import json
import secrets
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np
from django.db import transaction
from scipy import ndimage

from cases.imaging.volume import Grid
from cases.models import Case
from petctweb.errors import DomainError
from petctweb.roles import PATHOLOGIST, READER, STUDY_ADMIN
from portal.simulate import _save_mask, _truth_mask, _user
from studies.models import Study

STUDY_NAME = "Published design: lamella reader study (generated data)"
ADMIN = "pub-admin"
PATHOLOGIST_USER = "pub-pathologist"
READER_PREFIX = "pub-reader-"
N_READERS = 7
THRESHOLD_MM = 1.0


@dataclass
class PublishedSetup:
    study: Study
    credentials: list[tuple[str, str, str]]  # username, password, role
    units: int
    positive: int


def _specimen_mask(case: Case, truth_dir: Path, truth: dict) -> np.ndarray:
    from inference.engine.exports import labels_to_grid

    image = nib.load(str(truth_dir / "specimen_mask.nii.gz"))
    labels = np.asarray(image.dataobj).astype(np.uint8).transpose(2, 1, 0)
    source = Grid.from_dict(case.ct_acquired)
    if tuple(source.shape) != labels.shape:
        source = Grid.from_dict(truth["ct_grid"])
    return labels_to_grid(labels=labels, source_grid=source, target_grid=case.grid).astype(bool)


def _section(tumour: np.ndarray, specimen: np.ndarray, positive: bool) -> tuple[int, str]:
    """(slice index, status) of the pathology section: where tumour meets the outside, else its widest slice."""
    areas = tumour.reshape(tumour.shape[0], -1).sum(axis=1)
    if positive:
        outside = ndimage.binary_dilation(~specimen, iterations=1)
        touching = (tumour & outside).reshape(tumour.shape[0], -1).sum(axis=1)
        if touching.max() > 0:
            return int(np.argmax(touching)), "positive"
    return int(np.argmax(areas)), "negative"


def _account(username: str, role: str) -> tuple[object, str]:
    user = _user(username, role)
    password = secrets.token_urlsafe(9)
    user.set_password(password)
    user.save()
    return user, password


def setup_published_study(*, units: int = 31, positive: int = 9, seed: int = 2025, size: str = "small",
                          say: Callable[[str], None] = lambda _: None) -> PublishedSetup:
    """Build the demonstration; refuses (409) when it exists already."""
    from cases.phantoms.case_builder import generate_case
    from cases.phantoms.generator import case_seed, write_case
    from cases.services import case_import
    from studies.services import ground_truth_record, ground_truth_sign_off, study_create

    if not (1 <= units <= 200) or not (0 <= positive <= units):
        raise DomainError("units must be 1 to 200 and positive 0 to units", code="invalid")
    if Study.objects.filter(name=STUDY_NAME).exists():
        raise DomainError(f"the published-design study '{STUDY_NAME}' is already set up; close or delete it, or "
                          "use a fresh database", code="already_set_up", http_status=409)
    admin, admin_pw = _account(ADMIN, STUDY_ADMIN)
    pathologist, path_pw = _account(PATHOLOGIST_USER, PATHOLOGIST)
    readers = [_account(f"{READER_PREFIX}{i + 1}", READER) for i in range(N_READERS)]
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0x9B1]))
    is_positive = np.zeros(units, dtype=bool)
    is_positive[rng.choice(units, size=positive, replace=False)] = True
    codes, n_positive = [], 0
    with tempfile.TemporaryDirectory(prefix="petctweb-published-") as scratch:
        for index in range(units):
            phantom = generate_case(seed=case_seed(seed=seed, index=index), size=size,
                                    case_id=f"pub_{seed}_{index:04d}",
                                    margin_category="transected" if is_positive[index] else "clear")
            case_dir = write_case(case=phantom, out_dir=Path(scratch))
            del phantom
            try:
                case = case_import(path=case_dir, source=Case.Source.IMPORT, user=admin)[0].case
            except DomainError as exc:
                if exc.code == "duplicate_study":
                    raise DomainError(f"the generated patients of seed {seed} were imported before; use another "
                                      "--seed or a fresh database", code="already_set_up", http_status=409) from exc
                raise
            truth = json.loads((case_dir / "truth" / "truth.json").read_text())
            tumour = _truth_mask(case, case_dir / "truth", truth)
            specimen = _specimen_mask(case, case_dir / "truth", truth)
            k, status = _section(tumour, specimen, bool(is_positive[index]))
            outline = np.zeros_like(tumour)
            outline[k] = tumour[k]
            seg = _save_mask(case=case, author=pathologist, source="ground_truth", mask=outline)
            with transaction.atomic():
                gt = ground_truth_record(
                    user=pathologist, case=case, margin_status=status,
                    closest_distance_mm=0.0 if status == "positive" else None,
                    tumour_type="invasive carcinoma NST (generated)", segmentation_id=seg.pk, slice_index=k,
                    notes="generated patient: section and status from the phantom's truth")
                ground_truth_sign_off(user=pathologist, ground_truth=gt)
            n_positive += status == "positive"
            codes.append(case.code)
            say(f"patient {index + 1}/{units}: case {case.code}, lamella slice {k}, {status}")
    study = study_create(
        user=admin, name=STUDY_NAME, design=Study.Design.CROSSOVER, case_codes=codes,
        reader_usernames=[u.get_username() for u, _ in readers], margin_threshold_mm=THRESHOLD_MM,
        positive_categories=["positive", "close"], seed=seed, reading_unit=Study.ReadingUnit.LAMELLA,
        allow_context=False,
        description=(f"The published design on generated data: {units} lamella images of {units} patients "
                     f"({n_positive} margin-positive), seven readers, unaided then aided after the washout."))
    credentials = [(ADMIN, admin_pw, STUDY_ADMIN), (PATHOLOGIST_USER, path_pw, PATHOLOGIST),
                   *[(u.get_username(), pw, READER) for u, pw in readers]]
    return PublishedSetup(study=study, credentials=credentials, units=units, positive=n_positive)
