"""Import PET/CT DICOM studies from a file, a .zip or a folder tree."""

import json as jsonlib
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from cases.models import Case
from cases.services import case_import
from petctweb.errors import DomainError


def import_report(item) -> dict:
    study, case = item.study, item.case
    return {
        "case": case.code,
        "ct": {"shape": list(study.ct_acquired.shape), "spacing": list(study.ct_acquired.spacing)},
        "pet": {"shape": list(study.pet_acquired.shape), "spacing": list(study.pet_acquired.spacing)},
        "working_grid": {"shape": list(study.ct_working.grid.shape), "spacing": list(study.ct_working.grid.spacing)},
        "pet_units": study.pet_units,
        "suv_scale_factor": study.suv.factor,
        "suv_unavailable_reason": study.suv.reason,
        "warnings": list(study.warnings),
    }


class Command(BaseCommand):
    help = "Import DICOM PET/CT studies (file, .zip or folder tree; any sub-folder layout) as de-identified cases."

    def add_arguments(self, parser):
        parser.add_argument("path", type=Path)
        parser.add_argument("--json", action="store_true", help="print one JSON report per imported case")
        parser.add_argument("--single-patient", action="store_true",
                            help="refuse a PATH that holds more than one patient (as browser uploads do)")

    def handle(self, *args, path: Path, **options):
        if not path.exists():
            raise CommandError(f"{path} does not exist")
        try:
            imported = case_import(path=path, source=Case.Source.IMPORT, split_patients=not options["single_patient"])
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        reports = [import_report(item) for item in imported]
        if options["json"]:
            self.stdout.write(_dumps(reports))
        else:
            for report in reports:
                suv = report["suv_scale_factor"]
                self.stdout.write(
                    f"{report['case']}: CT {report['ct']['shape']} PET {report['pet']['shape']} -> working "
                    f"{report['working_grid']['shape']} @ {report['working_grid']['spacing'][0]} mm; "
                    + (f"SUV factor {suv:.6g}" if suv is not None else f"SUV unavailable ({report['suv_unavailable_reason']})")
                )
                for warning in report["warnings"]:
                    self.stdout.write(f"  warning: {warning}")


def _dumps(value) -> str:
    return jsonlib.dumps(value, indent=2)
