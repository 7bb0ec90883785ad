"""Import histopathological ground truth for a study's cases from CSV (all rows or none)."""

from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from petctweb.errors import DomainError
from studies.models import Study
from studies.services import CSV_COLUMNS, RowErrors, ground_truth_import_csv


class Command(BaseCommand):
    help = ("Import ground truth from CSV for the cases of an existing study. Columns: "
            + ", ".join(CSV_COLUMNS) + ", signed_off (yes/no). Every row is validated first; nothing is "
            "stored unless all rows are valid.")

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--study", required=True, help="study id or exact name")
        parser.add_argument("--user", default="", help="username recorded as the importer (a study administrator)")
        parser.add_argument("--no-sign-off", action="store_true",
                            help="leave imported versions unsigned (default: signed off, unless a row says otherwise)")

    def handle(self, *args, file: Path, study: str, user: str, no_sign_off: bool, **options):
        if not file.is_file():
            raise CommandError(f"{file} is not a readable file")
        target = (Study.objects.filter(pk=int(study)).first() if study.isdigit() else None) or \
            Study.objects.filter(name=study).first()
        if target is None:
            raise CommandError(f"no study '{study}'")
        actor = None
        if user:
            actor = get_user_model().objects.filter(username=user).first()
            if actor is None:
                raise CommandError(f"no user '{user}'")
        try:
            text = file.read_bytes().decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise CommandError(f"{file} is not UTF-8 text") from exc
        try:
            created = ground_truth_import_csv(user=actor, study=target, text=text, source_name=file.name,
                                              sign_off=not no_sign_off)
        except RowErrors as exc:
            raise CommandError("\n".join([f"{file}: {exc.message}", *exc.errors])) from exc
        except DomainError as exc:
            raise CommandError(f"{file}: {exc.message}") from exc
        for gt in created:
            state = "signed off" if gt.signed_off else "not signed off"
            self.stdout.write(f"{gt.case.code}: version {gt.version}, {gt.margin_status}, {state}")
        self.stdout.write(self.style.SUCCESS(f"imported ground truth for {len(created)} case(s) of '{target.name}'"))
