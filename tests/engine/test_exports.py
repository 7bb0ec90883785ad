"""NIfTI and DICOM SEG exports read back with nibabel and highdicom."""

from __future__ import annotations

import gzip
import io
import warnings

import highdicom as hd
import nibabel as nib
import numpy as np
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sr.codedict import codes
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

from cases.imaging.volume import Grid
from inference.engine.exports import labels_to_grid, mask_to_dicom_seg, mask_to_nifti

WORKING = Grid(shape=(12, 14, 16), spacing=(1.0, 1.0, 1.0), origin=(-8.0, -6.0, 20.0))
CT = Grid(shape=(12, 28, 32), spacing=(1.0, 0.5, 0.5), origin=(-8.25, -6.25, 20.0))  # same field of view


def _mask() -> np.ndarray:
    mask = np.zeros(WORKING.shape, dtype=np.uint8)
    mask[3:7, 4:9, 5:11] = 1
    mask[9, 2, 2] = 1
    return mask


def _ct_headers(grid: Grid) -> list[Dataset]:
    """Header-only CT images (no PixelData), as read with stop_before_pixels."""
    study, series, frame = generate_uid(), generate_uid(), generate_uid()
    row_dir, col_dir = grid.direction_matrix[:, 0], grid.direction_matrix[:, 1]
    datasets = []
    for k in range(grid.shape[0]):
        ds = Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, generate_uid()
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study, series, frame
        ds.Modality, ds.PatientID, ds.PatientName = "CT", "PSEUDO-0001", "Pseudo^0001"
        ds.PatientBirthDate = ds.PatientSex = ds.AccessionNumber = ds.ReferringPhysicianName = ""
        ds.StudyDate, ds.StudyTime, ds.StudyID = "20240101", "120000", "1"
        ds.SeriesNumber, ds.InstanceNumber = 1, k + 1
        ds.Rows, ds.Columns = grid.shape[1], grid.shape[2]
        ds.PixelSpacing = [grid.spacing[1], grid.spacing[2]]
        ds.SliceThickness = grid.spacing[0]
        ds.ImagePositionPatient = [float(v) for v in grid.index_to_patient(np.array([k, 0.0, 0.0]))]
        ds.ImageOrientationPatient = [float(v) for v in (*row_dir, *col_dir)]
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
        datasets.append(ds)
    return datasets


def test_labels_to_grid_identity_and_refinement():
    mask = _mask()
    assert np.array_equal(labels_to_grid(labels=mask, source_grid=WORKING, target_grid=WORKING), mask)
    fine = labels_to_grid(labels=mask, source_grid=WORKING, target_grid=CT)
    assert fine.dtype == np.uint8 and fine.shape == CT.shape
    # Each working voxel becomes a 2 x 2 block of CT pixels (CT pixel centres sit at +-0.25 mm).
    np.testing.assert_array_equal(fine, np.repeat(np.repeat(mask, 2, axis=1), 2, axis=2))


def test_labels_to_grid_flipped_direction():
    flipped = Grid(
        shape=WORKING.shape,
        spacing=WORKING.spacing,
        origin=tuple(WORKING.index_to_patient(np.array([0, 0, 15]))),
        direction=((-1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0)),
    )
    out = labels_to_grid(labels=_mask(), source_grid=WORKING, target_grid=flipped)
    np.testing.assert_array_equal(out, _mask()[:, :, ::-1])
    outside = Grid(shape=(2, 2, 2), spacing=(1, 1, 1), origin=(500.0, 0.0, 0.0))
    assert labels_to_grid(labels=_mask(), source_grid=WORKING, target_grid=outside).sum() == 0


def test_nifti_round_trip_affine_and_values():
    grid = Grid(
        shape=WORKING.shape,
        spacing=(2.0, 0.8, 0.6),
        origin=(10.0, -4.0, 33.0),
        direction=((0.0, 1.0, 0.0), (1.0, 0.0, 0.0), (0.0, 0.0, -1.0)),
    )
    mask = _mask()
    data = mask_to_nifti(mask=mask, grid=grid)
    image = nib.Nifti1Image.from_bytes(gzip.decompress(data))
    np.testing.assert_allclose(image.affine, grid.affine_ras(), atol=1e-5)
    assert image.get_data_dtype() == np.uint8
    volume = np.asarray(image.dataobj)
    for kji in [(4, 5, 6), (9, 2, 2), (0, 0, 0), (6, 8, 10), (7, 8, 10)]:
        lps = grid.index_to_patient(np.array(kji, dtype=float))
        ras = np.array([-lps[0], -lps[1], lps[2], 1.0])
        i, j, k = np.round(np.linalg.inv(image.affine) @ ras)[:3].astype(int)
        assert volume[i, j, k] == mask[kji]
    assert volume.sum() == mask.sum()


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_dicom_seg_round_trip():
    headers = _ct_headers(CT)
    shuffled = headers[::-1]  # any order of source images works
    seg = mask_to_dicom_seg(
        mask_working=_mask(),
        working_grid=WORKING,
        source_ct_datasets=shuffled,
        ct_grid=CT,
        model_name="ResUNet-ensemble",
        model_version="1.2.0",
        series_description="AI tumour segmentation",
    )
    buffer = io.BytesIO()
    seg.save_as(buffer)
    buffer.seek(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        read = hd.seg.segread(buffer)
    expected = labels_to_grid(labels=_mask(), source_grid=WORKING, target_grid=CT)
    pixels = read.get_pixels_by_source_instance(
        source_sop_instance_uids=[ds.SOPInstanceUID for ds in headers], segment_numbers=[1]
    )[..., 0]
    np.testing.assert_array_equal(pixels, expected)
    assert pixels.sum() == 4 * 10 * 12 + 4  # cube 4 x (5*2) x (6*2) plus the single voxel as 2 x 2
    assert read.ReferencedSeriesSequence[0].SeriesInstanceUID == headers[0].SeriesInstanceUID
    assert read.StudyInstanceUID == headers[0].StudyInstanceUID
    assert read.FrameOfReferenceUID == headers[0].FrameOfReferenceUID
    assert read.SeriesDescription == "AI tumour segmentation"
    assert read.SegmentationType == "BINARY"
    segment = read.get_segment_description(1)
    assert segment.segment_label == "Tumor"
    assert segment.segmented_property_type == codes.SCT.Tumor
    assert segment.segmented_property_category == codes.SCT.MorphologicallyAbnormalStructure
    assert segment.algorithm_type == hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC
    algorithm = segment.algorithm_identification[0]
    assert (algorithm.AlgorithmName, algorithm.AlgorithmVersion) == ("ResUNet-ensemble", "1.2.0")


def test_dicom_seg_refuses_image_off_grid():
    headers = _ct_headers(CT)
    headers[3].ImagePositionPatient = [0.0, 0.0, 999.0]
    with pytest.raises(ValueError, match="does not lie on a slice"):
        mask_to_dicom_seg(
            mask_working=_mask(),
            working_grid=WORKING,
            source_ct_datasets=headers,
            ct_grid=CT,
            model_name="m",
            model_version="1",
            series_description="x",
        )
