"""Add a trained bundle (model.json + fold_k.safetensors) to the model registry."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from inference.registry import model_version_register
from petctweb.errors import DomainError


class Command(BaseCommand):
    help = "Register a trained ensemble bundle as NAME:VERSION (verifying every fold's SHA-256)."

    def add_arguments(self, parser):
        parser.add_argument("bundle_dir", type=Path)
        parser.add_argument("label", help="NAME:VERSION")
        parser.add_argument("--default", action="store_true", help="make it the default model")

    def handle(self, *args, bundle_dir: Path, label: str, default: bool, **options):
        name, _, version = label.partition(":")
        if not name or not version:
            raise CommandError("label must be NAME:VERSION")
        if not bundle_dir.is_dir():
            raise CommandError(f"{bundle_dir} is not a folder")
        try:
            model_version = model_version_register(source_dir=bundle_dir, name=name, version=version, make_default=default)
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(self.style.SUCCESS(f"registered {model_version.label}" + (" (default)" if default else "")))
