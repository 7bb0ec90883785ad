"""Shared, session-scoped phantom cases (small size) so the suite stays fast."""

from __future__ import annotations

import pytest

from cases.phantoms.generator import batch_categories, case_seed, generate_case, generate_phantoms

BATCH_SEED = 7
N_BATCH = 8


@pytest.fixture(scope="session")
def batch_cases():
    """The 8 in-memory small cases that ``generate_phantoms(seed=7, n=8)`` would write."""
    categories = batch_categories(seed=BATCH_SEED, n=N_BATCH)
    return [
        generate_case(
            seed=case_seed(seed=BATCH_SEED, index=i),
            size="small",
            case_id=f"case_{i:04d}",
            margin_category=categories[i],
        )
        for i in range(N_BATCH)
    ]


@pytest.fixture(scope="session")
def written(tmp_path_factory):
    """Two small cases written to disk by the public batch function."""
    out = tmp_path_factory.mktemp("phantoms")
    calls = []
    summaries = generate_phantoms(
        out_dir=out,
        n=2,
        seed=2024,
        size="small",
        progress=lambda done, n, s: calls.append((done, n, s.case_id)),
    )
    return out, summaries, calls


@pytest.fixture(scope="session")
def regenerated(batch_cases):
    """``batch_cases[0]`` generated a second time from its seed."""
    first = batch_cases[0]
    return generate_case(
        seed=first.seed,
        size="small",
        case_id=first.case_id,
        margin_category=first.truth["target_margin_category"],
    )
