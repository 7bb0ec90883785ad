"""Export a tumour mask as NIfTI (research tools) or DICOM SEG (PACS, viewers).

The network works on the isotropic working grid; DICOM SEG must lie on the source CT's frames,
so the mask is first resampled (nearest neighbour, labels never blend) onto the CT grid.

Source CT datasets may be header-only (read with ``stop_before_pixels``): highdicom's
Segmentation only reads geometry, UIDs and patient/study attributes from them, never PixelData.
"""

from __future__ import annotations

import gzip
from collections.abc import Sequence

import highdicom as hd
import nibabel as nib
import numpy as np
import pydicom
from pydicom.sr.codedict import codes

from cases.imaging.resample import resample
from cases.imaging.volume import Grid, Volume


def labels_to_grid(*, labels: np.ndarray, source_grid: Grid, target_grid: Grid) -> np.ndarray:
    """Nearest-neighbour resampling of a (k, j, i) label array from ``source_grid`` onto ``target_grid``.

    Target voxels whose centre falls outside the source grid get label 0. The one patient-space
    resampler of the product does the work (order 0 keeps the labels' dtype).
    """
    labels = np.asarray(labels)
    if tuple(labels.shape) != tuple(source_grid.shape):
        raise ValueError(f"labels {labels.shape} do not match the source grid {source_grid.shape}")
    return resample(volume=Volume(array=labels, grid=source_grid), grid=target_grid, order=0, fill=0).array


def mask_to_nifti(*, mask: np.ndarray, grid: Grid) -> bytes:
    """A gzipped NIfTI-1 file (uint8, affine = ``grid.affine_ras()``) of a (k, j, i) mask."""
    mask = np.asarray(mask)
    if tuple(mask.shape) != tuple(grid.shape):
        raise ValueError(f"mask {mask.shape} does not match the grid {grid.shape}")
    data = np.ascontiguousarray((mask != 0).astype(np.uint8).transpose(2, 1, 0))  # NIfTI is (i, j, k)
    image = nib.Nifti1Image(data, grid.affine_ras())
    image.header.set_qform(grid.affine_ras(), code=1)  # scanner coordinates
    image.header.set_sform(grid.affine_ras(), code=1)
    image.header.set_xyzt_units(xyz="mm")
    image.header.set_data_dtype(np.uint8)
    return gzip.compress(image.to_bytes(), compresslevel=6)


def _slice_index(dataset: pydicom.Dataset, ct_grid: Grid) -> int:
    """Which k of ``ct_grid`` a CT image lies on, refusing one that is off the grid."""
    position = np.asarray([float(v) for v in dataset.ImagePositionPatient])
    kji = ct_grid.patient_to_index(position)
    k = int(np.round(kji[0]))
    if not (0 <= k < ct_grid.shape[0]) or np.max(np.abs(kji - [k, 0, 0])) > 0.01:
        raise ValueError(
            f"CT image {dataset.SOPInstanceUID} at {position.tolist()} does not lie on a slice of the CT grid"
        )
    if (int(dataset.Rows), int(dataset.Columns)) != tuple(ct_grid.shape[1:]):
        raise ValueError(f"CT image {dataset.SOPInstanceUID} is not {ct_grid.shape[1]}x{ct_grid.shape[2]}")
    return k


def mask_to_dicom_seg(
    *,
    mask_working: np.ndarray,
    working_grid: Grid,
    source_ct_datasets: Sequence[pydicom.Dataset],
    ct_grid: Grid,
    model_name: str,
    model_version: str,
    series_description: str,
    series_number: int = 900,
    manufacturer: str = "petctweb",
    manual: bool = False,
    series_instance_uid: str | None = None,  # fixed UIDs make a re-sent SEG replace, not duplicate, in PACS
    sop_instance_uid: str | None = None,
) -> pydicom.Dataset:
    """A binary DICOM SEG ("Tumor") on the frames of the source CT.

    Automatic (by the named model) by default; ``manual`` marks a person's mask (a reader's edit or
    a pathologist's outline), which carries no algorithm identification.
    """
    if not source_ct_datasets:
        raise ValueError("no source CT images given")
    ct_mask = labels_to_grid(
        labels=(np.asarray(mask_working) != 0).astype(np.uint8), source_grid=working_grid, target_grid=ct_grid
    )
    frames = np.stack([ct_mask[_slice_index(ds, ct_grid)] for ds in source_ct_datasets])
    algorithm = hd.AlgorithmIdentificationSequence(
        name=model_name, version=model_version, family=codes.cid7162.ArtificialIntelligence
    )
    segment = hd.seg.SegmentDescription(
        segment_number=1,
        segment_label="Tumor",
        segmented_property_category=codes.SCT.MorphologicallyAbnormalStructure,
        segmented_property_type=codes.SCT.Tumor,
        algorithm_type=(
            hd.seg.SegmentAlgorithmTypeValues.MANUAL if manual else hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC
        ),
        algorithm_identification=None if manual else algorithm,
    )
    seg = hd.seg.Segmentation(
        source_images=list(source_ct_datasets),
        pixel_array=frames,
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=[segment],
        series_instance_uid=series_instance_uid or hd.UID(),
        series_number=series_number,
        sop_instance_uid=sop_instance_uid or hd.UID(),
        instance_number=1,
        manufacturer=manufacturer,
        manufacturer_model_name=model_name[:64],
        software_versions=model_version[:64] or "unversioned",
        device_serial_number="none",
        series_description=series_description[:64],
        content_label="TUMOR",
        content_description=(
            series_description if manual else f"AI tumour segmentation, {model_name} {model_version}"
        )[:64],
        omit_empty_frames=False,  # one frame per CT image: simple for every viewer, tiny when BINARY
    )
    return seg
