"""Fixtures for the training-job tests: users per role, clients, isolated storage and ground truth.

Two worlds: ``tiny_truth`` (cases made directly on a tiny grid, cheap) for the request rules, and
``phantom_truth`` (the session phantoms imported through ``import_dicom``, outlined on one slice by the
pathologist through the studies services) for the end-to-end training.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from django.core.management import call_command

from cases.imaging.resample import resample
from cases.imaging.volume import Volume
from cases.models import Case
from inference.maskcodec import ENCODING, encode_rle
from inference.reader_masks import segmentation_save
from studies.services import ground_truth_record, ground_truth_sign_off
from training.loop.sources import read_nifti

TINY_NETWORK = {"channels": [4, 8], "strides": [2], "num_res_units": 1}
FAST_OPTIONS = {"batch_size": 2, "augment": False}


@pytest.fixture(autouse=True)
def isolated_storage(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PETCTWEB_MODEL_ROOT = tmp_path / "media" / "models"
    settings.VAR_DIR = tmp_path / "var"  # training bundles and reports
    settings.PETCTWEB_AUTO_INFERENCE = False


def outline_ground_truth(*, case: Case, pathologist, outline: np.ndarray, slice_index: int | None,
                         sign_off: bool = True):
    """The pathologist's outline saved and attached to a (signed-off) ground truth, as the web does it."""
    segmentation = segmentation_save(case=case, author=pathologist, source="ground_truth",
                                     shape=list(case.grid.shape), encoding=ENCODING, data=encode_rle(outline),
                                     parent_id=None)
    gt = ground_truth_record(user=pathologist, case=case, margin_status="negative", closest_distance_mm=2.0,
                             segmentation_id=segmentation.pk, slice_index=slice_index)
    return ground_truth_sign_off(user=pathologist, ground_truth=gt) if sign_off else gt


@pytest.fixture
def tiny_truth(users):
    """Three tiny cases of two patients, each outlined on one slice and signed off."""
    from tests.studies_app.conftest import make_case

    made = [make_case() for _ in range(3)]
    Case.objects.filter(pk=made[1].pk).update(patient_key=made[0].patient_key)  # cases 0 and 1: one patient
    for index, case in enumerate(made):
        case.refresh_from_db()
        outline = np.zeros(case.grid.shape, np.uint8)
        outline[1 + index % 2, 2:5, 3:6] = 1
        outline_ground_truth(case=case, pathologist=users["pathologist"], outline=outline, slice_index=1 + index % 2)
    return made


@pytest.fixture
def phantom_truth(users, phantom_dir):
    """The two session phantoms (two patients) imported, each outlined on its largest tumour slice."""
    cases = []
    for folder in sorted(p for p in phantom_dir.iterdir() if (p / "truth" / "tumour_mask.nii.gz").is_file()):
        before = set(Case.objects.values_list("pk", flat=True))
        call_command("import_dicom", str(folder), stdout=io.StringIO())
        case = Case.objects.exclude(pk__in=before).get()
        truth = read_nifti(path=folder / "truth" / "tumour_mask.nii.gz")
        binary = Volume(array=(truth.array > 0).astype(np.uint8), grid=truth.grid)
        tumour = resample(volume=binary, grid=case.grid, order=0, fill=0).array
        lamella = int(np.argmax(tumour.reshape(tumour.shape[0], -1).sum(axis=1)))
        outline = np.zeros_like(tumour)
        outline[lamella] = tumour[lamella]
        outline_ground_truth(case=case, pathologist=users["pathologist"], outline=outline, slice_index=lamella)
        cases.append((case, lamella))
    assert len({case.patient_key for case, _ in cases}) == 2
    return cases
