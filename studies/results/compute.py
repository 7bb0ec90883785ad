"""A study's results table and statistics report, computed once for the dashboard, the API and the exports."""

from __future__ import annotations

from django.core.cache import cache

from studies.results.data import mask_loader, study_table
from studies.results.published import published_section
from studies.results.report import build_report


def compute(study, *, model_label: str | None = None) -> tuple:
    """(table, report) of a study; segmentation metrics are cached per pair of immutable masks."""
    table = study_table(study=study, model_label=model_label or None)
    report = build_report(table=table, load_mask=mask_loader(table), cache=cache)
    report["published"] = published_section(report)  # the reproduced paper's figures, another data set
    return table, report
