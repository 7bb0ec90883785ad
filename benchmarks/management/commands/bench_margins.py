"""Margin accuracy and speed on continuous-truth phantoms (see ``benchmarks.margins``)."""

import json
import time

from django.conf import settings
from django.core.management.base import BaseCommand

from benchmarks.margins import end_to_end, geometry_errors, summarise
from cases.phantoms.continuous import generate_continuous_case
from inference.engine.margins import analyse_margins
from inference.engine.predictor import EnsemblePredictor
from inference.engine.weights import read_bundle


class Command(BaseCommand):
    help = "Margin analysis: geometry error, end-to-end accuracy with the demo ensemble, seconds per case."

    def add_arguments(self, parser):
        parser.add_argument("--n", type=int, default=40, help="geometry cases")
        parser.add_argument("--n-end-to-end", type=int, default=40, help="end-to-end cases (0 skips)")
        parser.add_argument("--wrappings", default="none,film,container")
        parser.add_argument("--seed", type=int, default=1000)
        parser.add_argument("--size", default="small", choices=["small", "full"])
        parser.add_argument("--bundle", default=str(settings.BASE_DIR / "demo_model"), help="model bundle folder")

    def handle(self, *args, **options):
        threshold = settings.PETCTWEB_MARGIN_THRESHOLD_MM
        report = {"geometry": summarise(geometry_errors(n=options["n"], seed=options["seed"], size=options["size"]),
                                        threshold_mm=threshold)}
        full = generate_continuous_case(seed=options["seed"], size="full", band=True)
        started = time.perf_counter()
        analyse_margins(tumour_probability=full.tumour_occupancy, specimen_occupancy=full.specimen_occupancy,
                        spacing=full.working_grid.spacing, grid=full.working_grid)
        report["seconds_per_analysis_full_size"] = round(time.perf_counter() - started, 3)
        report["full_size_shape"] = list(full.working_grid.shape)
        if options["n_end_to_end"]:
            predictor = EnsemblePredictor.from_bundle(bundle=read_bundle(options["bundle"]), device="cpu")
            report["end_to_end"] = {}
            for wrapping in options["wrappings"].split(","):
                rows = end_to_end(n=options["n_end_to_end"], seed=options["seed"] + 500, predictor=predictor,
                                  threshold_mm=threshold, wrapping=wrapping, size=options["size"])
                report["end_to_end"][wrapping] = summarise(rows, threshold_mm=threshold)
        self.stdout.write(json.dumps(report, indent=2, allow_nan=False))
