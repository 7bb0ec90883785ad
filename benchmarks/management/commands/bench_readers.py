"""Benchmark: N concurrent simulated readers against a live server on 127.0.0.1 (not a test)."""

import json
import tempfile
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.test.utils import override_settings

from benchmarks.readers import OPERATIONS, prepare, run


def _shape(text: str) -> tuple[int, int, int]:
    try:
        shape = tuple(int(v) for v in text.split(","))
    except ValueError as exc:
        raise CommandError("--shape is three whole numbers: slices,rows,columns") from exc
    if len(shape) != 3 or min(shape) < 8 or max(shape) > 512:
        raise CommandError("--shape is three numbers between 8 and 512")
    return shape


class Command(BaseCommand):
    help = ("Run N concurrent simulated readers (worklist, open case, load case and CT, save mask, submit call) "
            "against a threaded WSGI server on 127.0.0.1, in a throwaway database of the configured engine "
            "(PostgreSQL with DATABASE_URL, else SQLite), and print p50/p95 latency and errors.")

    def add_arguments(self, parser):
        parser.add_argument("--readers", type=int, default=50)
        parser.add_argument("--cases", type=int, default=5, help="cases per reader (every reader reads all)")
        parser.add_argument("--shape", default="32,96,96", help="working-grid shape of the synthetic cases")
        parser.add_argument("--json", action="store_true", help="print the summary as JSON")

    def handle(self, *args, readers: int, cases: int, shape: str, **options):
        if not 1 <= readers <= 500:
            raise CommandError("--readers must be between 1 and 500")
        if not 1 <= cases <= 200:
            raise CommandError("--cases must be between 1 and 200")
        grid = _shape(shape)
        test_settings = connection.settings_dict.setdefault("TEST", {})
        if connection.vendor == "sqlite":
            test_settings["NAME"] = str(Path(settings.VAR_DIR) / "bench-db.sqlite3")
        else:
            test_settings["NAME"] = f"bench_{connection.settings_dict['NAME']}"
        self.stderr.write(f"creating a throwaway {connection.vendor} database {test_settings['NAME']} …")
        with tempfile.TemporaryDirectory(prefix="petctweb-bench-") as media, override_settings(MEDIA_ROOT=media):
            old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
            try:
                study, people = prepare(readers=readers, cases=cases, shape=grid)
                self.stderr.write(f"{readers} readers x {cases} cases of {grid}; serving on 127.0.0.1 …")
                result = run(study=study, people=people, shape=grid)
            finally:
                connection.creation.destroy_test_db(old_name, verbosity=0)
        summary = result.summary()
        if options["json"]:
            self.stdout.write(json.dumps(summary, indent=2))
        else:
            self._table(summary)
        for line in result.errors[:20]:
            self.stderr.write(f"error: {line}")

    def _table(self, summary: dict) -> None:
        self.stdout.write(f"database {summary['database']} · {summary['readers']} readers · "
                          f"{summary['cases_per_reader']} cases each · {summary['requests']} requests in "
                          f"{summary['wall_s']} s ({summary['throughput_rps']} req/s) · errors {summary['errors']} · "
                          f"calls stored {summary['reads_stored']}")
        self.stdout.write(f"{'operation':<10} {'n':>6} {'p50 ms':>9} {'p95 ms':>9} {'max ms':>9}")
        for op in (*OPERATIONS, "all"):
            s = summary[op]
            if s["n"]:
                self.stdout.write(f"{op:<10} {s['n']:>6} {s['p50_ms']:>9} {s['p95_ms']:>9} {s['max_ms']:>9}")
