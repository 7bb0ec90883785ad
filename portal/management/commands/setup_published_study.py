"""Set up the published reader-study design on generated data, ready for people to read."""

from django.core.management.base import BaseCommand, CommandError

from petctweb.errors import DomainError
from portal.published_study import setup_published_study


class Command(BaseCommand):
    help = ("Create a lamella reader study like the published one on generated patients: 31 lamella units from "
            "31 patients (9 margin-positive), seven reader accounts, ground truth signed off.")

    def add_arguments(self, parser):
        parser.add_argument("--units", type=int, default=31, help="lamella units (one generated patient each)")
        parser.add_argument("--positive", type=int, default=9, help="margin-positive patients among them")
        parser.add_argument("--seed", type=int, default=2025)
        parser.add_argument("--size", choices=["small", "full"], default="small")

    def handle(self, *args, units: int, positive: int, seed: int, size: str, **options):
        try:
            result = setup_published_study(units=units, positive=positive, seed=seed, size=size,
                                           say=self.stdout.write)
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(self.style.SUCCESS(
            f"study {result.study.pk} '{result.study.name}': {result.units} lamella unit(s), "
            f"{result.positive} positive, {len(result.credentials) - 2} readers"))
        self.stdout.write("\nAccounts (username / password / role):")
        for username, password, role in result.credentials:
            self.stdout.write(f"  {username:18s} {password:20s} {role}")
