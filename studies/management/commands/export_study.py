"""Write a study's exports (report JSON, reads CSV, statistics CSV, iMRMC, masks zip) to a folder."""

from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from studies.models import Study
from studies.results import exports
from studies.results.compute import compute


class Command(BaseCommand):
    help = ("Export a study's results like the API does (each file audited as 'study.export'): "
            "results.json, reads.csv, statistics.csv, study.imrmc and masks.zip in OUT_DIR.")

    def add_arguments(self, parser):
        parser.add_argument("study_id", type=int)
        parser.add_argument("out_dir", type=Path)
        parser.add_argument("--user", default=None, help="username recorded as the exporting actor")
        parser.add_argument("--model", default=None, help="model version 'name:version' (default: see report)")
        parser.add_argument("--formats", default=",".join(exports.EXPORT_FORMATS),
                            help=f"comma-separated subset of {', '.join(exports.EXPORT_FORMATS)}")

    def handle(self, *args, study_id: int, out_dir: Path, user, model, formats: str, **options):
        study = Study.objects.filter(pk=study_id).first()
        if study is None:
            raise CommandError(f"no study {study_id}")
        wanted = [f.strip() for f in formats.split(",") if f.strip()]
        unknown = [f for f in wanted if f not in exports.EXPORT_FORMATS]
        if unknown:
            raise CommandError(f"unknown format(s): {', '.join(unknown)}")
        actor = None
        if user:
            actor = get_user_model().objects.filter(username=user).first()
            if actor is None:
                raise CommandError(f"no user {user}")
        if out_dir.exists() and not out_dir.is_dir():
            raise CommandError(f"{out_dir} exists and is not a folder")
        out_dir.mkdir(parents=True, exist_ok=True)
        table, report = compute(study, model_label=model)
        detail = {"via": "export_study command", "model": table.model.label}
        for fmt in wanted:
            path = out_dir / exports.file_name(study.pk, fmt)
            if fmt == "json":
                path.write_text(exports.report_json(report), encoding="utf-8")
            elif fmt == "reads.csv":
                path.write_text(exports.reads_csv(table), encoding="utf-8")
            elif fmt == "statistics.csv":
                path.write_text(exports.statistics_csv(report), encoding="utf-8")
            elif fmt == "study.imrmc":
                try:
                    text = exports.imrmc_text(table)
                except exports.ExportUnavailable as exc:
                    self.stderr.write(f"skipped {fmt}: {exc}")
                    continue
                path.write_text(text, encoding="utf-8")
            elif fmt == "masks.zip":
                with path.open("wb") as handle:
                    manifest = exports.write_masks_zip(table, handle)
                detail = {**detail, "files": len(manifest["files"])}
            exports.record_export(user=actor, study_id=study.pk, fmt=fmt, detail=detail)
            self.stdout.write(f"wrote {path}")
