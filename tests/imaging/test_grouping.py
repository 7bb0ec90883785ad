"""Grouping into series and pairing CT with PET."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydicom.uid import generate_uid

from cases.imaging.errors import IngestError
from cases.imaging.grouping import group_series, pair_series
from cases.imaging.reading import DicomFile

from .dicom_factory import make_ct_series, make_pet_series, make_series


def _files(*series_lists) -> list[DicomFile]:
    """In-memory DicomFiles (grouping reads headers only)."""
    files = []
    for datasets in series_lists:
        for ds in datasets:
            name = f"{ds.Modality}/{ds.SeriesNumber}/{ds.InstanceNumber}"
            files.append(DicomFile(path=Path("/nonexistent") / name, name=name, size=0, header=ds))
    return files


def test_pairs_ct_and_pet_of_each_study() -> None:
    study_a, study_b, frame = generate_uid(), generate_uid(), generate_uid()
    files = _files(
        make_ct_series(study_uid=study_a, shape=(3, 4, 4), frame_of_reference_uid=frame),
        make_pet_series(study_uid=study_a, shape=(2, 4, 4), series_number=2, frame_of_reference_uid=frame),
        make_ct_series(study_uid=study_b, shape=(3, 4, 4)),
        make_pet_series(study_uid=study_b, shape=(2, 4, 4), series_number=2),
    )
    result = pair_series(files=files)
    assert sorted(p.study_uid for p in result.pairs) == sorted([study_a, study_b])
    for pair in result.pairs:
        assert pair.ct.modality == "CT" and pair.pet.modality == "PT"
        assert pair.ct.study_uid == pair.pet.study_uid == pair.study_uid
    assert result.patient_id == "MRN-12345"
    # Study b's CT and PET have different frames of reference: accepted, with a warning.
    assert len(result.warnings) == 1 and "different frames of reference" in result.warnings[0]
    assert len(group_series(files=files)) == 4


def test_several_ct_series_keep_the_largest_and_warn() -> None:
    study = generate_uid()
    scout = make_ct_series(study_uid=study, shape=(1, 4, 4), series_number=7, description="Scout")
    main = make_ct_series(study_uid=study, shape=(5, 4, 4), series_number=3, description="Specimen CT")
    pet = make_pet_series(study_uid=study, shape=(2, 4, 4), series_number=2)
    result = pair_series(files=_files(scout, main, pet))
    assert result.pairs[0].ct.series_uid == main[0].SeriesInstanceUID
    assert any("ignoring" in w for w in result.warnings)
    # Descriptions may hold names and warnings reach readers: series are named by number only.
    assert not any("Specimen CT" in w or "Scout" in w for w in result.warnings)


def test_pet_without_ct() -> None:
    with pytest.raises(IngestError) as caught:
        pair_series(files=_files(make_pet_series(shape=(2, 4, 4), description="FDG specimen")))
    assert caught.value.code == "pet_without_ct"
    assert "PET without CT: PT series" in caught.value.message and "FDG specimen" not in caught.value.message


def test_ct_without_pet() -> None:
    with pytest.raises(IngestError) as caught:
        pair_series(files=_files(make_ct_series(shape=(2, 4, 4))))
    assert caught.value.code == "ct_without_pet" and "CT without PET" in caught.value.message


def test_two_patients_in_one_upload() -> None:
    study = generate_uid()
    files = _files(
        make_ct_series(study_uid=study, shape=(2, 4, 4)),
        make_pet_series(study_uid=study, shape=(2, 4, 4), patient_id="OTHER-PATIENT"),
    )
    with pytest.raises(IngestError) as caught:
        pair_series(files=files)
    assert caught.value.code == "multiple_patients"
    assert "two patients in one upload" in caught.value.message
    assert "OTHER-PATIENT" not in caught.value.message  # no PHI in messages


def test_ct_and_pet_in_separate_studies_are_paired_with_warning() -> None:
    files = _files(make_ct_series(shape=(2, 4, 4)), make_pet_series(shape=(2, 4, 4), series_number=2))
    result = pair_series(files=files)
    assert len(result.pairs) == 1
    assert any("different studies" in w for w in result.warnings)


def test_no_ct_or_pet_at_all() -> None:
    with pytest.raises(IngestError) as caught:
        pair_series(files=_files(make_series(modality="MR", shape=(2, 4, 4))))
    assert caught.value.code == "no_pet_ct" and "MR" in caught.value.message


def test_other_modalities_ignored_with_warning() -> None:
    study = generate_uid()
    files = _files(
        make_ct_series(study_uid=study, shape=(2, 4, 4)),
        make_pet_series(study_uid=study, shape=(2, 4, 4), series_number=2),
        make_series(modality="SR", study_uid=study, shape=(1, 2, 2), series_number=9),
    )
    result = pair_series(files=files)
    assert len(result.pairs) == 1 and any("neither CT nor PET" in w for w in result.warnings)
