"""Reads of studies themselves: lists, summaries, membership."""

from __future__ import annotations

from django.db.models import Count, QuerySet

from cases.models import Case
from petctweb.roles import is_study_admin
from studies.models import Assignment, ReadingSession, Study, StudyReader
from studies.selectors.units import reading_unit_payload, study_units


def study_list(*, user) -> QuerySet[Study]:
    if is_study_admin(user):
        return Study.objects.annotate(n_cases=Count("study_cases", distinct=True),
                                      n_readers=Count("study_readers", distinct=True))
    return Study.objects.none()


def study_case_codes(*, study: Study) -> list[str]:
    return list(study.study_cases.order_by("case__code").values_list("case__code", flat=True))


def study_reader_usernames(*, study: Study) -> list[str]:
    return list(study.study_readers.order_by("reader__username").values_list("reader__username", flat=True))


def reader_studies(*, user) -> QuerySet[Study]:
    return Study.objects.filter(study_readers__reader=user).order_by("status", "-created_at")


def study_summary(study: Study) -> dict:
    return {
        "id": study.pk,
        "name": study.name,
        "description": study.description,
        "design": study.design,
        "status": study.status,
        "margin_threshold_mm": study.margin_threshold_mm,
        "positive_categories": study.positive_categories,
        "indeterminate_counts_as": study.indeterminate_counts_as,
        "reading_unit": study.reading_unit,
        "allow_context": study.allow_context,
        "units": [reading_unit_payload(u) for u in study_units(study=study)] if study.reads_lamellae else [],
        "washout_days": study.washout_days,
        "seed": study.seed,
        "allow_amendments": study.allow_amendments,
        "enforce_order": study.enforce_order,
        "created_at": study.created_at.isoformat(),
        "created_by": study.created_by.get_username() if study.created_by else None,
        "closed_at": study.closed_at.isoformat() if study.closed_at else None,
        "cases": study_case_codes(study=study),
        "readers": study_reader_usernames(study=study),
    }


def assignment_for(*, session: ReadingSession, case: Case) -> Assignment | None:
    return Assignment.objects.filter(session=session, case=case).first()


def study_reader_exists(*, study: Study, user) -> bool:
    return StudyReader.objects.filter(study=study, reader=user).exists()
