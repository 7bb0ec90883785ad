"""The study results table as plain dataclasses, and the scoring conventions (Django-free).

:mod:`studies.results.data` fills a :class:`StudyTable` from the database;
:mod:`studies.results.report` computes the statistics from it. Conventions:

- the model's call: the closest tumour-to-surface distance at the study threshold: 0 mm (tumour at
  the surface) = positive, <= threshold = close, beyond (or no tumour detected) = negative;
- model ROC score: minus the closest distance in mm (``NO_TUMOUR_SCORE`` when no tumour was found);
- reader ROC score: 1..10 from the binary call and the confidence (see :func:`reader_score`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from studies.stats.binary import to_binary

NO_TUMOUR_SCORE = -1000.0
MODEL_KEY = "AI model"  # never a username (usernames cannot contain spaces)
AT_SURFACE_MM = 1e-6  # the margin engine's tolerance for "0 mm"


def model_category(distance_mm: float | None, threshold_mm: float) -> str:
    """positive (tumour at the surface) / close (<= threshold) / negative (beyond, or no tumour)."""
    if distance_mm is None:
        return "negative"
    if distance_mm <= AT_SURFACE_MM:
        return "positive"
    if distance_mm <= threshold_mm + AT_SURFACE_MM:
        return "close"
    return "negative"


def model_category_with_folds(distance_mm: float | None, threshold_mm: float, fold_distances_mm: list) -> str:
    """As :func:`model_category`, but ``indeterminate`` when the calls of the ensemble and its folds
    disagree at this threshold (some positive and some not, or some folds without tumour), as the margin
    engine decides it. Without fold distances the ensemble's call stands."""
    if distance_mm is None or not fold_distances_mm:
        return model_category(distance_mm, threshold_mm)
    calls = {None if d is None else float(d) <= threshold_mm + AT_SURFACE_MM for d in [distance_mm, *fold_distances_mm]}
    return "indeterminate" if len(calls) > 1 else model_category(distance_mm, threshold_mm)


def lamella_category_with_folds(distance_mm: float | None, threshold_mm: float, fold_distances_mm: list) -> str:
    """The model's call on one slice: as :func:`model_category`, but ``indeterminate`` when the in-plane
    calls of the ensemble and its folds disagree at this threshold. A fold without tumour in the slice
    (None) calls it negative. Slices stored before per-slice fold margins have none: never indeterminate."""
    if distance_mm is None or not fold_distances_mm:
        return model_category(distance_mm, threshold_mm)
    calls = {d is not None and float(d) <= threshold_mm + AT_SURFACE_MM for d in [distance_mm, *fold_distances_mm]}
    return "indeterminate" if len(calls) > 1 else model_category(distance_mm, threshold_mm)


def model_is_positive(status: str, positive_categories, indeterminate_counts_as: str) -> bool:
    """The model's binary call; ``indeterminate`` follows the study setting (positive by default)."""
    if status == "indeterminate":
        return indeterminate_counts_as == "positive"
    return is_positive(status, positive_categories)


def lamella_model_slice(per_slice: list[dict], slice_index: int) -> dict | None:
    """The model's stored in-plane margin entry of one slice; None when the slice holds no tumour (no entry)."""
    for entry in per_slice or []:
        if int(entry.get("k", -1)) == slice_index and entry.get("distance_mm") is not None:
            return entry
    return None


def lamella_truth_status(*, section_status: dict, outlined_slice: int | None, margin_status: str,
                         slice_index: int) -> str | None:
    """The pathologist's status of the section at ``slice_index``: a recorded section status, else the
    case's status when that is the outlined section; None when pathology names no status for it."""
    status = (section_status or {}).get(str(slice_index))
    if status:
        return status
    return margin_status if outlined_slice == slice_index else None


def model_score(distance_mm: float | None) -> float:
    return NO_TUMOUR_SCORE if distance_mm is None else -float(distance_mm)


def reader_score(*, positive: bool, confidence: int) -> int:
    """1 (certainly negative) .. 5 (unsure negative), 6 (unsure positive) .. 10 (certainly positive)."""
    c = max(1, min(5, int(confidence)))
    return 5 + c if positive else 6 - c


def is_positive(status: str, positive_categories) -> bool:
    return to_binary(categories=[status], positive=positive_categories)[0]


@dataclass(frozen=True)
class SessionInfo:
    key: str  # "unaided" / "aided" (the MRMC modality name)
    number: int
    aided: bool


@dataclass(frozen=True)
class TruthCall:
    ground_truth_id: int
    version: int
    status: str
    positive: bool
    closest_distance_mm: float | None
    face_status: dict[str, str]
    segmentation_id: int | None
    slice_index: int | None
    signed_off_at: str
    pending_correction: bool


@dataclass(frozen=True)
class ModelCall:
    segmentation_id: int
    run_id: int | None
    model: str
    closest_mm: float | None
    status: str  # at the study threshold: positive / close / negative / indeterminate
    positive: bool
    score: float
    faces: dict[str, str]  # face -> status at the study threshold (faces with a distance only)
    face_distances_mm: dict[str, float | None]
    run_status: str  # the stored MarginResult status at the run's threshold
    run_threshold_mm: float
    interval_mm: list[float] | None = None  # [low, high] of the ensemble's and the folds' closest (or in-plane) margins
    folds: list[dict] = field(default_factory=list)  # [{fold, closest_mm, status}] at the run's threshold


@dataclass(frozen=True)
class ReadCall:
    read_id: int
    version: int
    status: str
    positive: bool
    confidence: int
    score: int
    face_calls: dict[str, str]
    segmentation_id: int | None
    started_from_model_segmentation_id: int | None
    aided: bool
    submitted_at: str


@dataclass
class CaseRow:
    code: str
    case_id: int
    spacing_mm: tuple[float, float, float]  # (sz, sy, sx) of the working grid
    shape: tuple[int, int, int]
    truth: TruthCall | None = None
    truth_missing: str = ""
    model: ModelCall | None = None
    model_missing: str = ""
    reads: dict[str, dict[str, ReadCall]] = field(default_factory=dict)  # session key -> reader -> call
    # Lamella studies: the row is a reading unit (``code`` is its label) of case ``case_code`` at ``slice_index``.
    case_code: str = ""
    unit_id: int | None = None
    slice_index: int | None = None


@dataclass(frozen=True)
class ModelChoice:
    label: str | None
    model_version_id: int | None
    selection: str
    reason: str = ""


@dataclass
class StudyTable:
    study: dict
    sessions: list[SessionInfo]
    readers: list[str]
    cases: list[CaseRow]
    model: ModelChoice
    masks: dict[int, tuple[str, tuple[int, int, int]]]  # segmentation id -> (stored name, grid shape)
    all_reads: list[dict]  # every version of every call, for the reads export

    @property
    def positive_categories(self) -> list[str]:
        return list(self.study["positive_categories"])

    @property
    def threshold_mm(self) -> float:
        return float(self.study["margin_threshold_mm"])


def cases_with_truth(cases: list[CaseRow]) -> list[CaseRow]:
    """The cases that have ground truth (every analysis against truth uses only these)."""
    return [c for c in cases if c.truth is not None]


def reader_call(case: CaseRow, session: str, reader: str) -> ReadCall | None:
    """A reader's final call on a case in a session, or None."""
    return case.reads.get(session, {}).get(reader)
