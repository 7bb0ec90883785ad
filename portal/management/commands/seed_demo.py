"""Demo set-up for a fresh install: role groups, demo users, the demo model and demo cases."""

import hashlib
import json
import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError

from cases.models import Case
from cases.phantoms.generator import generate_phantoms
from cases.services import case_import
from inference.models import ModelVersion
from inference.registry import model_version_register
from petctweb.roles import ALL_ROLES, PATHOLOGIST, READER, STUDY_ADMIN

DEMO_MODEL_DIR = Path(settings.BASE_DIR) / "demo_model"
DEMO_USERS = [
    ("admin", None),  # superuser
    ("studyadmin", STUDY_ADMIN),
    ("reader1", READER),
    ("reader2", READER),
    ("pathologist", PATHOLOGIST),
]


class Command(BaseCommand):
    help = "Create demo users (one per role), register the shipped demo model and import generated demo cases."

    def add_arguments(self, parser):
        parser.add_argument("--cases", type=int, default=3, help="demo cases to generate when none exist")
        parser.add_argument("--seed", type=int, default=2025)
        parser.add_argument(
            "--size",
            choices=["full", "small"],
            default="full",
            help="full: realistic 30-80 mm specimens (default); small: 25-40 mm, quicker",
        )

    def handle(self, *args, cases: int, seed: int, size: str, **options):
        if cases < 0:
            raise CommandError("--cases must be 0 or more")
        for role in ALL_ROLES:
            Group.objects.get_or_create(name=role)
        credentials = self._users()
        self._model()
        if not Case.objects.exists() and cases > 0:
            out_dir = Path(settings.VAR_DIR) / "demo-phantoms"
            self.stdout.write(f"generating {cases} demo specimen(s) in {out_dir} …")
            generate_phantoms(out_dir=out_dir, n=cases, seed=seed, size=size)
            imported = case_import(path=out_dir, source=Case.Source.IMPORT, split_patients=True)
            self.stdout.write(f"imported demo cases: {', '.join(item.case.code for item in imported)}")
        self.stdout.write("\nDemo accounts (username / password / role):")
        for username, password, role in credentials:
            self.stdout.write(f"  {username:12s} {password:20s} {role}")

    def _users(self) -> list[tuple[str, str, str]]:
        store = Path(settings.VAR_DIR) / "demo-credentials.json"
        saved = json.loads(store.read_text()) if store.exists() else {}
        User = get_user_model()
        rows = []
        for username, role in DEMO_USERS:
            password = saved.get(username) or secrets.token_urlsafe(9)
            user, created = User.objects.get_or_create(username=username)
            if created or not user.check_password(password):
                user.set_password(password)
            user.is_superuser = user.is_staff = role is None
            user.save()
            if role:
                user.groups.add(Group.objects.get(name=role))
            saved[username] = password
            rows.append((username, password, role or "superuser"))
        store.parent.mkdir(parents=True, exist_ok=True)
        store.write_text(json.dumps(saved, indent=2))
        store.chmod(0o600)
        return rows

    def _model(self) -> None:
        manifest = DEMO_MODEL_DIR / "model.json"
        if not manifest.exists():
            self.stdout.write(self.style.WARNING("no demo model shipped in demo_model/; train one with train_ensemble --demo"))
            return
        raw = manifest.read_bytes()
        meta = json.loads(raw)
        # The manifest hash names the version, so an upgraded checkout registers its new demo weights.
        name = meta.get("name") or "demo"
        version = f"{meta.get('version') or 'demo'}-{hashlib.sha256(raw).hexdigest()[:8]}"
        if ModelVersion.objects.filter(name=name, version=version).exists():
            return
        current = ModelVersion.objects.filter(is_default=True).first()
        make_default = current is None or current.name == name  # never displace a model an admin chose
        model_version_register(source_dir=DEMO_MODEL_DIR, name=name, version=version, make_default=make_default)
        self.stdout.write(f"registered demo model {name}:{version}" + (" as default" if make_default else ""))
