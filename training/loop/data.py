"""The training sample set: 2D axial slices of prepared PET/CT channels with their tumour masks.

A ``TrainingCase`` is one specimen on its working grid (where it came from does not matter here:
generated phantoms, a folder of volumes, or pathologist-annotated cases from the app; see
``training.loop.sources``). Its channels come from ``inference.engine.preprocess.prepare_channels``,
the one preprocessing path the product also uses at inference, so the network never sees inputs
normalised differently from what it was trained on.

A ``SliceSet`` holds the selected slices, each cropped or padded to a fixed square around the
specimen and tagged with its case and patient id (folds are grouped by patient). Selection keeps
every tumour slice (optionally capped per case) plus a seeded fraction of the tumour-free specimen
slices, so training sees mostly tumour without forgetting what healthy tissue looks like.

A case whose ground truth exists only on some slices (the published data are 2D lamellae: the
pathologist outlines the tumour on the one axial slice that matches the pathology section) names them
in ``annotated_slices``; selection then draws from those slices only, with the same rules (every
annotated tumour slice, a fraction of the annotated tumour-free ones), because an unannotated slice is
unknown, not tumour-free.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from cases.imaging.specimen import specimen_mask_from_ct
from cases.imaging.volume import Grid
from inference.engine.config import ModelConfig, PreprocessConfig
from inference.engine.network import pad_multiple
from inference.engine.preprocess import prepare_channels
from training.loop.validation import TrainingInputError

MIN_SPECIMEN_FRACTION = 0.02  # a slice counts as specimen when it has >= 2% of the largest slice's tissue


@dataclass
class TrainingCase:
    """One specimen on its working grid, with the tumour ground truth.

    Give either ``channels`` (already prepared with ``prepare_channels`` for the model's
    PreprocessConfig) or ``ct_hu`` + ``pet`` (+ ``suv_factor`` when SUV is known; PET in Bq/ml, or
    already in SUV with ``suv_factor=1.0``). All arrays are (Z, Y, X) = [k, j, i] on one grid.
    """

    case_id: str
    patient_id: str
    tumour_mask: np.ndarray  # (Z, Y, X), nonzero = tumour
    spacing: tuple[float, float, float]  # (sz, sy, sx) mm of the working grid
    channels: np.ndarray | None = None  # (C, Z, Y, X) float32 in [0, 1]
    ct_hu: np.ndarray | None = None  # (Z, Y, X) HU
    pet: np.ndarray | None = None  # (Z, Y, X) Bq/ml (or SUV with suv_factor=1.0)
    suv_factor: float | None = None  # Bq/ml -> SUVbw; None when SUV is unavailable
    specimen_mask: np.ndarray | None = None  # (Z, Y, X); derived from CT when absent
    truth_closest_margin_mm: float | None = None  # reference closest margin (pathology / phantom truth)
    grid: Grid | None = None  # full working-grid geometry, when known
    source: str = "memory"
    # z indices that carry ground truth; None = every slice (a full 3D mask). Only these are trained on.
    annotated_slices: tuple[int, ...] | None = None

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(np.shape(self.tumour_mask))

    @property
    def working_grid(self) -> Grid:
        """The case's grid; an axis-aligned one at the origin when only the spacing is known."""
        if self.grid is not None:
            return self.grid
        return Grid(shape=self.shape, spacing=tuple(float(s) for s in self.spacing), origin=(0.0, 0.0, 0.0))

    def prepared_channels(self, *, config: PreprocessConfig) -> np.ndarray:
        if self.channels is not None:
            return np.asarray(self.channels, dtype=np.float32)
        return prepare_channels(
            ct_hu=self.ct_hu, pet=self.pet, suv_factor=self.suv_factor, config=config
        ).channels

    def ct_for_specimen(self, *, channels: np.ndarray | None, config: PreprocessConfig) -> np.ndarray | None:
        """CT in HU: the given one, or recovered from the scaled CT channel (clipped, which is fine)."""
        if self.ct_hu is not None:
            return np.asarray(self.ct_hu, dtype=np.float32)
        if channels is not None and "ct" in config.channels:
            low, high = config.ct_clip_hu
            return channels[config.channels.index("ct")] * (high - low) + low
        return None


def specimen_region(
    *, case: TrainingCase, channels: np.ndarray | None, config: PreprocessConfig
) -> np.ndarray:
    """Boolean (Z, Y, X) specimen mask used to choose and centre slices (``channels`` needed without CT)."""
    if case.specimen_mask is not None:
        return np.asarray(case.specimen_mask) > 0
    ct = case.ct_for_specimen(channels=channels, config=config)
    if ct is None:
        return np.asarray(channels).max(axis=0) > 0
    # The product's own surface finder: holder plate removed, holes filled, largest component.
    return np.asarray(specimen_mask_from_ct(ct_hu=ct, spacing=tuple(case.spacing))) > 0


@dataclass
class SliceSet:
    """Fixed-size 2D samples; index i of every field describes the same slice."""

    images: np.ndarray  # (N, C, H, W) float32
    masks: np.ndarray  # (N, H, W) uint8, 1 = tumour
    case_ids: list[str]
    patient_ids: list[str]
    slice_indices: list[int]  # z index in the case's working grid

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def has_tumour(self) -> np.ndarray:
        return self.masks.reshape(len(self), -1).any(axis=1)

    def subset(self, indices: Sequence[int] | np.ndarray) -> SliceSet:
        indices = np.asarray(indices, dtype=int)
        return SliceSet(
            images=self.images[indices],
            masks=self.masks[indices],
            case_ids=[self.case_ids[i] for i in indices],
            patient_ids=[self.patient_ids[i] for i in indices],
            slice_indices=[self.slice_indices[i] for i in indices],
        )

    def slice_counts(self) -> dict[str, int]:
        """Slices per patient (what the folds are balanced on)."""
        return dict(Counter(self.patient_ids))


def _window_start(*, centre: int, size: int, keep: tuple[int, int] | None) -> int:
    """Start of a ``size`` window around ``centre``, shifted (if it can be) to contain ``keep``."""
    start = centre - size // 2
    if keep is not None:
        low, high = keep  # inclusive pixel range that must stay inside the window
        start = min(max(start, high - size + 1), low)
    return start


def crop_or_pad(*, array: np.ndarray, start_y: int, start_x: int, size: int, fill: float = 0.0) -> np.ndarray:
    """array[..., start_y:start_y+size, start_x:start_x+size], filling outside the array with ``fill``."""
    height, width = array.shape[-2:]
    out = np.full(array.shape[:-2] + (size, size), fill, dtype=array.dtype)
    y0, x0 = max(start_y, 0), max(start_x, 0)
    y1, x1 = min(start_y + size, height), min(start_x + size, width)
    if y1 > y0 and x1 > x0:
        out[..., y0 - start_y : y1 - start_y, x0 - start_x : x1 - start_x] = array[..., y0:y1, x0:x1]
    return out


def _box(mask_2d: np.ndarray) -> tuple[tuple[int, int], tuple[int, int]] | None:
    ys, xs = np.nonzero(mask_2d)
    if ys.size == 0:
        return None
    return (int(ys.min()), int(ys.max())), (int(xs.min()), int(xs.max()))


def select_slices(
    *,
    tumour: np.ndarray,
    specimen: np.ndarray,
    tumour_free_fraction: float,
    max_tumour_slices: int | None,
    rng: np.random.Generator,
    annotated: Sequence[int] | None = None,
) -> list[int]:
    """z indices: tumour slices (evenly thinned to the cap) + a sampled fraction of tumour-free tissue slices.

    ``annotated`` (None = all) restricts both kinds to those slices: the rest of the volume has no truth.
    """
    allowed = np.ones(tumour.shape[0], dtype=bool)
    if annotated is not None:
        allowed[:] = False
        allowed[[int(z) for z in annotated if 0 <= int(z) < tumour.shape[0]]] = True
    has_tumour = tumour.reshape(tumour.shape[0], -1).any(axis=1)
    tumour_z = np.flatnonzero(has_tumour & allowed)
    if max_tumour_slices is not None and tumour_z.size > max_tumour_slices:
        # Evenly spaced keeps both the tumour's edges and its centre; neighbours are near-duplicates anyway.
        tumour_z = tumour_z[
            np.unique(np.linspace(0, tumour_z.size - 1, max_tumour_slices).round().astype(int))
        ]
    area = specimen.reshape(specimen.shape[0], -1).sum(axis=1)
    free_z = np.flatnonzero(
        (area >= MIN_SPECIMEN_FRACTION * max(area.max(), 1)) & (area > 0) & ~has_tumour & allowed
    )
    n_free = int(round(tumour_free_fraction * free_z.size))
    chosen_free = rng.choice(free_z, size=n_free, replace=False) if n_free else np.array([], dtype=int)
    return sorted(int(z) for z in np.concatenate([tumour_z, chosen_free]))


def auto_slice_size(*, specimens: Sequence[np.ndarray], multiple: int) -> int:
    """Smallest multiple of ``multiple`` that holds the largest in-plane specimen extent of any case.

    At least two multiples: at one, the network's bottleneck is 1x1 pixel and instance normalisation fails.
    """
    extent = 2 * multiple
    for specimen in specimens:
        box = _box(specimen.any(axis=0))
        if box is not None:
            extent = max(extent, box[0][1] - box[0][0] + 1, box[1][1] - box[1][0] + 1)
    return int(-(-extent // multiple) * multiple)


def build_slice_set(
    *,
    cases: Sequence[TrainingCase],
    config: ModelConfig,
    slice_size: int | None = None,
    tumour_free_fraction: float = 0.25,
    max_tumour_slices_per_case: int | None = None,
    seed: int = 0,
) -> SliceSet:
    """Select, crop and stack the 2D training slices of all cases.

    ``slice_size`` None = just large enough for the largest specimen (rounded up to the network's
    pad multiple). Larger specimens are cropped around their centre, keeping the tumour inside.
    """
    multiple = pad_multiple(config.network)
    if slice_size is not None and (slice_size <= 0 or slice_size % multiple):
        raise TrainingInputError(
            f"slice size {slice_size} must be a positive multiple of {multiple} for this network"
        )
    if not 0.0 <= tumour_free_fraction <= 1.0:
        raise TrainingInputError(f"tumour-free fraction must be within [0, 1], got {tumour_free_fraction}")
    rng = np.random.default_rng(seed)
    # Pass 1: masks only (booleans are small), so the channels of one case at a time are in memory.
    regions = []
    for case in cases:
        tumour = np.asarray(case.tumour_mask) > 0
        channels = case.channels if case.ct_hu is None else None
        specimen = specimen_region(case=case, channels=channels, config=config.preprocess) | tumour
        regions.append((tumour, specimen))
    if slice_size is None:
        slice_size = auto_slice_size(specimens=[specimen for _, specimen in regions], multiple=multiple)
    images, masks, case_ids, patient_ids, slice_indices = [], [], [], [], []
    for case, (tumour, specimen) in zip(cases, regions, strict=True):
        channels = case.prepared_channels(config=config.preprocess)
        for z in select_slices(
            tumour=tumour,
            specimen=specimen,
            tumour_free_fraction=tumour_free_fraction,
            max_tumour_slices=max_tumour_slices_per_case,
            rng=rng,
            annotated=case.annotated_slices,
        ):
            specimen_box = _box(specimen[z])
            tumour_box = _box(tumour[z])
            (sy, sx) = (
                (
                    (specimen_box[0][0] + specimen_box[0][1]) // 2,
                    (specimen_box[1][0] + specimen_box[1][1]) // 2,
                )
                if specimen_box
                else (tumour.shape[1] // 2, tumour.shape[2] // 2)
            )
            # Centre on the specimen; if it is larger than the window, slide so the tumour stays inside.
            start_y = _window_start(centre=sy, size=slice_size, keep=tumour_box and tumour_box[0])
            start_x = _window_start(centre=sx, size=slice_size, keep=tumour_box and tumour_box[1])
            # Padding value 0 = air in every scaled channel (CT -1000 HU and no uptake both map to 0).
            images.append(
                crop_or_pad(array=channels[:, z], start_y=start_y, start_x=start_x, size=slice_size)
            )
            masks.append(
                crop_or_pad(
                    array=tumour[z].astype(np.uint8), start_y=start_y, start_x=start_x, size=slice_size
                )
            )
            case_ids.append(case.case_id)
            patient_ids.append(case.patient_id)
            slice_indices.append(z)
    if not images:
        raise TrainingInputError("no slices were selected: the cases have no tumour and no specimen slices")
    return SliceSet(
        images=np.stack(images).astype(np.float32),
        masks=np.stack(masks).astype(np.uint8),
        case_ids=case_ids,
        patient_ids=patient_ids,
        slice_indices=slice_indices,
    )
