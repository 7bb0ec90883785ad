"""bench_readers mechanics on a tiny run (the figures themselves are a benchmark, not a test)."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from benchmarks.readers import prepare, run
from studies.models import Read


@pytest.mark.django_db(transaction=True)
def test_simulated_readers_complete_their_worklists_over_loopback(users):
    study, people = prepare(readers=3, cases=2, shape=(8, 16, 16), tag="t")
    result = run(study=study, people=people, shape=(8, 16, 16), client_processes=1)
    summary = result.summary()
    assert result.errors == []
    assert summary["reads_stored"] == 6 == Read.objects.filter(study=study).count()
    assert summary["submit"]["n"] == 6 and summary["worklist"]["n"] == 9  # two cases, then an empty worklist
    assert 0 < summary["all"]["p50_ms"] <= summary["all"]["p95_ms"]


@pytest.mark.parametrize("args", [["--readers", "0"], ["--cases", "0"], ["--shape", "1,2"], ["--shape", "a,b,c"]])
def test_bench_arguments_are_checked(args):
    with pytest.raises(CommandError):
        call_command("bench_readers", *args)
