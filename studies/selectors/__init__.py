"""Reads for reader studies, one module per concept; the public names are re-exported here so
``from studies.selectors import X`` keeps working. Who may see what is ``portal.access_policy``."""

from studies.selectors.audit import audit_event_payload, audit_events
from studies.selectors.context import (
    FREE_CONTEXT,
    ReaderContext,
    reader_context,
    session_context_key,
    session_is_open,
    session_next_assignment,
    session_next_case,
    waiting_message,
)
from studies.selectors.ground_truth import (
    ground_truth_current,
    ground_truth_final,
    ground_truth_get,
    ground_truth_overview,
    ground_truth_payload,
    ground_truth_versions,
)
from studies.selectors.reads import read_payload, study_final_reads, study_reads
from studies.selectors.studies import (
    assignment_for,
    reader_studies,
    study_case_codes,
    study_list,
    study_reader_exists,
    study_reader_usernames,
    study_summary,
)
from studies.selectors.units import reading_unit_for, reading_unit_payload, study_units
from studies.selectors.worklist import (
    AssignmentRow,
    SessionProgress,
    reader_worklist,
    session_progress,
    study_progress,
    worklist_next_code,
    worklist_next_item,
)

__all__ = [
    "FREE_CONTEXT", "AssignmentRow", "ReaderContext", "SessionProgress", "assignment_for", "audit_event_payload",
    "audit_events", "ground_truth_current", "ground_truth_final", "ground_truth_get", "ground_truth_overview",
    "ground_truth_payload", "ground_truth_versions", "read_payload", "reader_context", "reader_studies",
    "reader_worklist", "session_context_key", "session_is_open", "session_next_case", "session_progress",
    "study_case_codes", "study_final_reads", "study_list", "study_progress", "study_reader_exists",
    "study_reader_usernames", "study_reads", "study_summary", "waiting_message", "worklist_next_code",
    "worklist_next_item", "session_next_assignment", "reading_unit_for", "reading_unit_payload", "study_units",
]
