"""Plain hooks through which ``cases`` announces what happened, so higher apps can react without ``cases``
importing them (the floors point one way: a higher app registers, usually in its ``AppConfig.ready``)."""

from __future__ import annotations

from collections.abc import Callable

from django.db import transaction

from cases.models import Case

CaseImportedCallback = Callable[..., object]  # called as callback(case=..., user=...)

_case_imported: list[CaseImportedCallback] = []


def on_case_imported(callback: CaseImportedCallback) -> CaseImportedCallback:
    """Register ``callback(case=, user=)`` to run after each imported case is committed (once per callback)."""
    if callback not in _case_imported:
        _case_imported.append(callback)
    return callback


def case_imported_callbacks() -> tuple[CaseImportedCallback, ...]:
    return tuple(_case_imported)


def case_imported(*, case: Case, user=None) -> None:
    """Announce an imported case; listeners run once the surrounding transaction commits (so they never
    see, or queue work for, a case that is rolled back)."""
    for callback in tuple(_case_imported):
        transaction.on_commit(lambda callback=callback: callback(case=case, user=user))
