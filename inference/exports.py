"""Exporting a stored segmentation as DICOM SEG (referencing the source CT) or NIfTI."""

from __future__ import annotations

import io

from cases.imaging.volume import Grid
from cases.selectors import case_source_ct_headers
from cases.volume_store import load_array
from inference.engine.exports import mask_to_dicom_seg, mask_to_nifti
from inference.models import Segmentation


def segmentation_mask(segmentation: Segmentation):
    return load_array(name=segmentation.mask_file.name, dtype="uint8", shape=segmentation.case.grid.shape)


def segmentation_nifti_bytes(*, segmentation: Segmentation) -> bytes:
    return mask_to_nifti(mask=segmentation_mask(segmentation), grid=segmentation.case.grid)


def segmentation_dicom_seg_bytes(*, segmentation: Segmentation, series_description: str = "") -> bytes:
    case = segmentation.case
    model = segmentation.model_version
    dataset = mask_to_dicom_seg(
        mask_working=segmentation_mask(segmentation),
        working_grid=case.grid,
        source_ct_datasets=case_source_ct_headers(case=case),
        ct_grid=Grid.from_dict(case.ct_acquired),
        model_name=model.name if model else "reader",
        model_version=model.version if model else str(segmentation.version),
        series_description=series_description or f"Tumour ({segmentation.source}) {case.code}",
        manual=segmentation.source != Segmentation.Source.MODEL,
    )
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()
