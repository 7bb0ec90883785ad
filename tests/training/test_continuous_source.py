"""Continuous-truth training cases: plan checks, exact labels on the ingested grid, the per-case cache."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from inference.engine.config import PreprocessConfig
from training.loop.continuous_source import (
    CASE_INFO,
    LABELS,
    case_from_continuous,
    case_plan,
    cases_from_continuous,
    ensure_continuous_cases,
)
from training.loop.demo import DEMO_TRAINING
from training.loop.validation import TrainingInputError


def test_plan_cycles_the_wrappings_one_seed_per_case() -> None:
    plan = case_plan(n=5, seed=7000, wrappings=("none", "container"))
    assert plan == [(7000, "none"), (7001, "container"), (7002, "none"), (7003, "container"), (7004, "none")]


def test_unknown_wrapping_is_refused_by_name() -> None:
    with pytest.raises(TrainingInputError, match=r"unknown wrapping\(s\) \['bag'\].*container"):
        case_plan(n=4, seed=7000, wrappings=("none", "bag"))


@pytest.mark.parametrize(
    ("n", "wrappings", "message"),
    [(0, ("none",), "at least 1"), (3, (), "at least one wrapping")],
)
def test_empty_requests_are_refused(n: int, wrappings: tuple, message: str) -> None:
    with pytest.raises(TrainingInputError, match=message):
        case_plan(n=n, seed=7000, wrappings=wrappings)


@pytest.mark.parametrize("seed", [1490, 1600, 1619, 2000])
def test_benchmark_seeds_are_never_trained_on(seed: int) -> None:
    """Test (1500-1539), tuning (1600-1619) and speed (2000) seeds would leak the benchmark."""
    with pytest.raises(TrainingInputError, match="margin benchmark"):
        case_plan(n=12, seed=seed, wrappings=("none",))


def test_unknown_size_is_refused(tmp_path: Path) -> None:
    with pytest.raises(TrainingInputError, match="size must be one of"):
        ensure_continuous_cases(path=tmp_path, n=1, seed=7000, wrappings=("none",), size="huge")


def test_demo_settings_keep_the_continuous_batch_apart_from_the_benchmark() -> None:
    """Even 200 continuous cases from the demo's seed stay clear of every benchmark seed."""
    plan = case_plan(
        n=max(DEMO_TRAINING.continuous_train_cases, 200),
        seed=DEMO_TRAINING.continuous_seed,
        wrappings=DEMO_TRAINING.continuous_wrappings,
    )
    assert {wrapping for _, wrapping in plan} == {"none", "film", "container", "gauze"}


@pytest.mark.slow
def test_container_case_has_exact_labels_on_the_ingested_grid(tmp_path: Path) -> None:
    from cases.phantoms.continuous import generate_continuous_case

    config = PreprocessConfig(working_spacing_mm=0.5)
    root = tmp_path / "continuous"
    (case,) = cases_from_continuous(path=root, n=1, seed=7002, wrappings=("container",), config=config)
    folder = root / "seed_7002_container"
    assert case.case_id == folder.name and case.patient_id == "continuous/seed_7002_container"
    assert case.tumour_mask.shape == case.ct_hu.shape == case.pet.shape == case.specimen_mask.shape
    assert case.grid is not None and case.spacing == (0.5, 0.5, 0.5)
    assert case.suv_factor is not None
    # The label is the generator's exact occupancy at 0.5, on the grid that ingest made (here the
    # same grid as the generator's own working grid), clipped to the specimen.
    generated = generate_continuous_case(seed=7002, size="small", wrapping="container", band=False)
    assert generated.working_grid.shape == case.grid.shape
    assert np.allclose(generated.working_grid.affine(), case.grid.affine())
    assert np.array_equal(case.tumour_mask > 0, generated.tumour_occupancy >= 0.5)
    assert np.array_equal(case.specimen_mask > 0, generated.specimen_occupancy >= 0.5)
    assert not (case.tumour_mask.astype(bool) & ~case.specimen_mask.astype(bool)).any()
    assert case.truth_closest_margin_mm == pytest.approx(generated.truth["closest_margin_mm"])

    # Cached: asking again reuses the folder instead of generating anew.
    stamp = (folder / LABELS).stat().st_mtime_ns
    ensure_continuous_cases(path=root, n=1, seed=7002, wrappings=("container",))
    assert (folder / LABELS).stat().st_mtime_ns == stamp
    manifest = json.loads((root / "manifest.json").read_text())
    assert manifest["n"] == 1 and manifest["seed"] == 7002 and manifest["cases"] == [folder.name]

    # Labels computed on another grid are refused, with what to do about it.
    info = json.loads((folder / CASE_INFO).read_text())
    info["working_grid"]["origin"][0] += 0.25
    (folder / CASE_INFO).write_text(json.dumps(info))
    with pytest.raises(TrainingInputError, match="another working grid.*delete the folder"):
        case_from_continuous(case_dir=folder, config=config)


def test_a_folder_without_labels_is_refused(tmp_path: Path) -> None:
    (tmp_path / "seed_7000_none").mkdir()
    with pytest.raises(TrainingInputError, match="not a generated continuous case"):
        case_from_continuous(case_dir=tmp_path / "seed_7000_none", config=PreprocessConfig())
