"""Benchmark: slices/s per fold model and seconds per stage for a generated case."""

import json
import tempfile
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from benchmarks.inference import benchmark_case
from cases.imaging.study import load_studies
from cases.phantoms.generator import generate_phantoms
from inference.registry import predictor_for
from inference.selectors import model_version_get
from inference.services import resolve_device
from petctweb.errors import DomainError


class Command(BaseCommand):
    help = "Time preprocessing, the ensemble network and margin analysis on a generated case."

    def add_arguments(self, parser):
        parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
        parser.add_argument("--model", default="", help="name:version (default model if empty)")
        parser.add_argument("--size", choices=["full", "small"], default="full")
        parser.add_argument("--seed", type=int, default=5)
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **options):
        model_version = model_version_get(label=options["model"])
        if model_version is None:
            raise CommandError("no model registered; run seed_demo or register_model first")
        try:
            device = resolve_device(options["device"])
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        with tempfile.TemporaryDirectory() as scratch:
            generate_phantoms(out_dir=Path(scratch), n=1, seed=options["seed"], size=options["size"])
            [study] = load_studies(path=Path(scratch) / "case_0000", working_spacing_mm=settings.PETCTWEB_WORKING_SPACING_MM,
                                   deid_secret="benchmark")
        predictor = predictor_for(model_version=model_version, device=device)
        grid = study.ct_working.grid
        result = benchmark_case(predictor=predictor, ct_hu=study.ct_working.array, pet=study.pet_working.array,
                                suv_factor=study.suv.factor, spacing=grid.spacing, grid=grid,
                                threshold_mm=settings.PETCTWEB_MARGIN_THRESHOLD_MM)
        result.update({"device": device, "model_version": model_version.label, "working_shape": list(grid.shape)})
        if options["json"]:
            self.stdout.write(json.dumps(result, indent=2, default=str))
        else:
            for key, value in result.items():
                self.stdout.write(f"{key}: {value}")
