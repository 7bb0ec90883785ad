"""Obuchowski-Rockette MRMC ROC analysis of any file in the iMRMC input format."""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from studies.stats.imrmc import MrmcInputError
from studies.stats.mrmc import analyse_imrmc_file


class Command(BaseCommand):
    help = "Run the OR MRMC analysis (Wilcoxon AUC, jackknife covariances, Hillis df) on an iMRMC file."

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, file: Path, **options):
        if not file.is_file():
            raise CommandError(f"{file} is not a readable file")
        try:
            result = analyse_imrmc_file(path=file).to_dict()
        except (MrmcInputError, UnicodeDecodeError) as exc:
            raise CommandError(f"{file}: {exc}") from exc
        if options["json"]:
            self.stdout.write(json.dumps(result, indent=2))
            return
        self.stdout.write("AUC (reader x modality):")
        for reader, by_modality in result["auc"].items():
            cells = "  ".join(f"{m}: {v:.8f}" for m, v in by_modality.items())
            self.stdout.write(f"  reader {reader}: {cells}")
        self.stdout.write("Modality means: " + ", ".join(f"{m}: {v:.8f}" for m, v in result["modality_means"].items()))
        rrrc, frrc = result["rrrc"], result["frrc"]
        self.stdout.write(
            f"Random readers, random cases: F = {rrrc['F']:.4f} (1, {rrrc['ddf']:.2f} df), p = {rrrc['p']:.4f}, "
            f"difference CI95 {rrrc['ci95']}"
        )
        self.stdout.write(f"Fixed readers, random cases: chi2 = {frrc['chi2']:.5f}, p = {frrc['p']:.4f}, CI95 {frrc['ci95']}")
