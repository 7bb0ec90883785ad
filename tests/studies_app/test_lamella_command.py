"""setup_published_study: a lamella study on generated patients, ready to read; refuses a second run."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from studies.models import GroundTruth, ReadingUnit, Study
from studies.stats.binary import to_binary


@pytest.mark.slow
def test_setup_published_study_small(db, settings, tmp_path, capsys):
    settings.MEDIA_ROOT = tmp_path / "media"
    call_command("setup_published_study", units=3, positive=1, seed=7)
    out = capsys.readouterr().out
    study = Study.objects.get()
    assert study.reads_lamellae and study.design == "crossover" and not study.allow_context
    units = list(ReadingUnit.objects.filter(study=study))
    assert len(units) == 3 and len({u.case_id for u in units}) == 3
    truths = {gt.case_id: gt for gt in GroundTruth.objects.filter(signed_off_at__isnull=False)}
    assert all(truths[u.case_id].slice_index == u.slice_index for u in units)
    statuses = [truths[u.case_id].margin_status for u in units]
    assert sum(to_binary(categories=statuses, positive=["positive", "close"])) == 1
    assert study.study_readers.count() == 7
    assert "pub-reader-7" in out and "pub-pathologist" in out and "1 positive" in out
    with pytest.raises(CommandError, match="already set up"):
        call_command("setup_published_study", units=3, positive=1, seed=7)
    with pytest.raises(CommandError):
        call_command("setup_published_study", units=2, positive=3)
