"""Writes for reader studies, margin calls and ground truth. Every write is audited.

One module per concept; this package re-exports the public names so ``from studies.services import X``
works wherever X lives.
"""

from studies.services.audit import export_record, view_record
from studies.services.ground_truth import (
    ground_truth_record,
    ground_truth_save_and_sign_off,
    ground_truth_sign_off,
    ground_truth_update,
)
from studies.services.ground_truth_import import (
    CSV_COLUMNS,
    CSV_REQUIRED,
    MAX_CSV_ROWS,
    RowErrors,
    ground_truth_import_csv,
)
from studies.services.reading import (
    ReadExists,
    assignment_open,
    read_amend,
    read_submit,
    reading_session_schedule,
)
from studies.services.study_lifecycle import (
    DEFAULT_CROSSOVER_WASHOUT_DAYS,
    MAX_THRESHOLD_MM,
    MAX_WASHOUT_DAYS,
    study_add_cases,
    study_add_readers,
    study_close,
    study_create,
)

__all__ = [
    "CSV_COLUMNS",
    "CSV_REQUIRED",
    "DEFAULT_CROSSOVER_WASHOUT_DAYS",
    "MAX_CSV_ROWS",
    "MAX_THRESHOLD_MM",
    "MAX_WASHOUT_DAYS",
    "ReadExists",
    "RowErrors",
    "assignment_open",
    "export_record",
    "ground_truth_import_csv",
    "ground_truth_record",
    "ground_truth_save_and_sign_off",
    "ground_truth_sign_off",
    "ground_truth_update",
    "read_amend",
    "read_submit",
    "reading_session_schedule",
    "study_add_cases",
    "study_add_readers",
    "study_close",
    "study_create",
    "view_record",
]
