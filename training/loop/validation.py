"""Input checks that run BEFORE any training starts.

Training takes minutes to hours; a bad case discovered in fold 4 wastes all of it. Every check here
is cheap and names the offending case or file, so the person who assembled the data can fix it.
All problems are raised as one ``TrainingInputError`` listing each of them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # data.py imports this module; avoid the cycle at run time
    from cases.imaging.volume import Grid
    from training.loop.data import TrainingCase


class TrainingInputError(ValueError):
    """Training data that cannot be trained on; the message says what and where."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _raise_if(problems: list[str]) -> None:
    if len(problems) == 1:
        raise TrainingInputError(problems[0])
    if problems:
        raise TrainingInputError(
            f"{len(problems)} problems in the training data:\n- " + "\n- ".join(problems)
        )


def validate_cases(
    *,
    cases: Sequence[TrainingCase],
    folds: int | None = None,
    in_channels: int | None = None,
    allow_empty_masks: bool = False,
    role: str = "training",
) -> None:
    """Check shapes, masks, duplicates and (when ``folds`` is given) the patient count."""
    if not cases:
        raise TrainingInputError(f"no {role} cases were given")
    problems: list[str] = []
    seen: set[str] = set()
    for case in cases:
        name = f"case {case.case_id!r}"
        if case.case_id in seen:
            problems.append(f"{name} appears more than once")
        seen.add(case.case_id)
        mask = np.asarray(case.tumour_mask)
        if mask.ndim != 3:
            problems.append(f"{name}: tumour mask must be 3D (Z, Y, X), got shape {mask.shape}")
            continue
        if case.channels is None and (case.ct_hu is None or case.pet is None):
            problems.append(f"{name}: give either prepared channels or both CT (HU) and PET")
            continue
        if case.channels is not None:
            channels = np.asarray(case.channels)
            if channels.ndim != 4:
                problems.append(f"{name}: channels must be 4D (C, Z, Y, X), got shape {channels.shape}")
                continue
            image_shape = tuple(channels.shape[1:])
            if in_channels is not None and channels.shape[0] != in_channels:
                problems.append(
                    f"{name}: {channels.shape[0]} input channels, the network expects {in_channels}"
                )
        else:
            image_shape = tuple(np.shape(case.ct_hu))
            if tuple(np.shape(case.pet)) != image_shape:
                problems.append(
                    f"{name}: PET shape {np.shape(case.pet)} does not match CT shape {image_shape}"
                )
        if tuple(mask.shape) != image_shape:
            problems.append(
                f"{name}: tumour mask shape {tuple(mask.shape)} does not match image shape {image_shape}"
            )
        if case.specimen_mask is not None and tuple(np.shape(case.specimen_mask)) != image_shape:
            problems.append(
                f"{name}: specimen mask shape {tuple(np.shape(case.specimen_mask))} "
                f"does not match image shape {image_shape}"
            )
        if len(case.spacing) != 3 or any(not np.isfinite(s) or s <= 0 for s in case.spacing):
            problems.append(f"{name}: spacing must be three positive millimetre values, got {case.spacing}")
        if case.annotated_slices is not None:
            annotated = list(case.annotated_slices)
            if not annotated:
                problems.append(f"{name}: annotated slices are given but empty (None means every slice)")
            outside = [z for z in annotated if not 0 <= int(z) < mask.shape[0]]
            if outside:
                problems.append(
                    f"{name}: annotated slice(s) {outside} outside the volume's {mask.shape[0]} slices"
                )
        if not allow_empty_masks and mask.size and not mask.any():
            problems.append(
                f"{name}: the tumour mask is empty (all zero); fix the ground truth or allow empty masks explicitly"
            )
    if folds is not None:
        patients = {case.patient_id for case in cases}
        if len(patients) < folds:
            problems.append(f"need at least {folds} patients for {folds} folds, got {len(patients)}")
    _raise_if(problems)


def check_mask_geometry(
    *, case_id: str, mask_grid: Grid, image_grid: Grid, what: str = "tumour mask"
) -> None:
    """A mask file must lie on its image's grid: same shape, spacing, origin and orientation."""
    problems = []
    if tuple(mask_grid.shape) != tuple(image_grid.shape):
        problems.append(f"shape {tuple(mask_grid.shape)} vs image {tuple(image_grid.shape)}")
    tolerance = 0.01 * min(image_grid.spacing)  # a hundredth of a voxel: rounding, not a different grid
    if not np.allclose(mask_grid.affine(), image_grid.affine(), atol=tolerance):
        problems.append(
            f"geometry (spacing {tuple(round(s, 4) for s in mask_grid.spacing)}, origin "
            f"{tuple(round(o, 2) for o in mask_grid.origin)}) vs image (spacing "
            f"{tuple(round(s, 4) for s in image_grid.spacing)}, origin {tuple(round(o, 2) for o in image_grid.origin)})"
        )
    if problems:
        raise TrainingInputError(f"case {case_id!r}: {what} does not match its image: " + "; ".join(problems))


def _readable(path: Path, *, dicom: bool) -> str | None:
    """None when the file can be read, else the reason."""
    name = path.name.lower()
    try:
        if name.endswith((".nii", ".nii.gz")):
            import nibabel

            nibabel.load(str(path)).get_fdata(dtype=np.float32)  # decompress fully: truncated gz fails here
        elif name.endswith(".json"):
            json.loads(path.read_text())
        elif dicom or name.endswith(".dcm"):
            import pydicom

            pydicom.dcmread(str(path), stop_before_pixels=True)
        else:
            return None
    except Exception as error:  # noqa: BLE001 - any failure means unreadable; the reason is reported
        return f"{type(error).__name__}: {str(error)[:120]}"
    return None


def check_readable_folder(*, path: Path) -> None:
    """Every DICOM, NIfTI and JSON file under ``path`` must open; name each one that does not."""
    path = Path(path)
    if not path.is_dir():
        raise TrainingInputError(f"data folder {path} does not exist or is not a folder")
    bad = []
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        if file.name.startswith("."):
            continue
        # Files inside ct/ or pet/ series folders are DICOM whatever their extension.
        dicom = file.parent.name.lower() in ("ct", "pet")
        reason = _readable(file, dicom=dicom)
        if reason:
            bad.append(f"{file.relative_to(path)} ({reason})")
    if bad:
        shown = bad[:20] + ([f"... and {len(bad) - 20} more"] if len(bad) > 20 else [])
        raise TrainingInputError(f"{len(bad)} unreadable file(s) in {path}:\n- " + "\n- ".join(shown))
