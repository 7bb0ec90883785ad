"""Margin accuracy and speed on continuous-truth phantoms (see ``benchmarks.margins``)."""

import json
import os
import sys
import time

import numpy as np
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from benchmarks.margin_cases import load_case
from benchmarks.margins import cached_cases, end_to_end_row, geometry_row, summarise
from cases.imaging.specimen import specimen_surface_from_ct
from inference.engine.margins import analyse_margins
from inference.engine.predictor import EnsemblePredictor
from inference.engine.preprocess import prepare_channels
from inference.engine.weights import read_bundle


class Command(BaseCommand):
    help = "Margin analysis: geometry error, end-to-end accuracy with the demo ensemble, seconds per case."

    def add_arguments(self, parser):
        parser.add_argument("--n", type=int, default=40, help="band cases per wrapping")
        parser.add_argument("--wrappings", default="none,film,container")
        parser.add_argument("--seed", type=int, default=1500, help="first case seed (test seeds: keep apart "
                                                                   "from the demo ensemble's training/tuning seeds)")
        parser.add_argument("--size", default="small", choices=["small", "full"])
        parser.add_argument("--no-end-to-end", action="store_true", help="geometry alone")
        parser.add_argument("--no-diagnosis", action="store_true", help="skip the per-case error split")
        parser.add_argument("--speed-seed", type=int, default=2000, help="full-size case timed (0 skips)")
        parser.add_argument("--cache", default=str(settings.BASE_DIR / "var" / "bench-cases"),
                            help="generated cases are kept here and reused")
        parser.add_argument("--bundle", default=str(settings.BASE_DIR / "demo_model"), help="model bundle folder")
        parser.add_argument("--rows", action="store_true", help="print every case's row too")

    def handle(self, *args, **options):
        if options["n"] < 1:
            raise CommandError("--n must be at least 1")
        threshold = settings.PETCTWEB_MARGIN_THRESHOLD_MM
        seeds = range(options["seed"], options["seed"] + options["n"])
        wrappings = [w for w in options["wrappings"].split(",") if w]
        predictor = None
        if not options["no_end_to_end"]:
            predictor = EnsemblePredictor.from_bundle(bundle=read_bundle(options["bundle"]), device="cpu")
        report = {"threshold_mm": threshold, "size": options["size"], "seeds": [seeds.start, seeds.stop - 1],
                  "geometry": {}, "end_to_end": {}}
        all_geometry, rows_out = [], {}
        for wrapping in wrappings:
            geometry, end_to_end = [], []
            for case in cached_cases(root=options["cache"], seeds=seeds, size=options["size"], wrapping=wrapping):
                geometry.append(geometry_row(case))
                if predictor is not None:
                    end_to_end.append(end_to_end_row(case, predictor=predictor, threshold_mm=threshold,
                                                     diagnose=not options["no_diagnosis"]))
                print(f"{wrapping} seed {case.seed} done", file=sys.stderr, flush=True)
            all_geometry += geometry
            report["geometry"][wrapping] = summarise(geometry, threshold_mm=threshold)
            if end_to_end:
                report["end_to_end"][wrapping] = summarise(end_to_end, threshold_mm=threshold)
            rows_out[wrapping] = end_to_end or geometry
        report["geometry"]["all"] = summarise(all_geometry, threshold_mm=threshold)
        if options["speed_seed"]:
            report["speed_full_size"] = self._speed(options["speed_seed"], predictor, options["cache"])
        if options["rows"]:
            report["rows"] = rows_out
        self.stdout.write(json.dumps(report, indent=2, allow_nan=False))

    def _speed(self, seed: int, predictor, cache: str) -> dict:
        """Seconds of ``analyse_margins`` on a full-size case: the ensemble's mean and folds, CT surface."""
        case = load_case(root=cache, seed=seed, size="full", wrapping="none")
        if predictor is None:
            probability, folds, level = case.tumour_occupancy, (), 0.5
        else:
            prepared = prepare_channels(ct_hu=case.ct_hu, pet=case.pet, suv_factor=case.suv_factor,
                                        config=predictor.config.preprocess)
            prediction = predictor.predict(channels=prepared.channels, spacing=case.ingest_grid.spacing)
            probability, folds, level = prediction.probability, prediction.fold_probabilities, prediction.threshold
        occupancy = specimen_surface_from_ct(ct_hu=case.ct_hu, spacing=case.ingest_grid.spacing).occupancy
        wall, cpu = [], []
        for _ in range(3):
            started, started_cpu = time.perf_counter(), time.process_time()
            analyse_margins(tumour_probability=probability, fold_probabilities=folds, tumour_level=level,
                            specimen_occupancy=occupancy, spacing=case.ingest_grid.spacing, grid=case.ingest_grid)
            wall.append(time.perf_counter() - started)
            cpu.append(time.process_time() - started_cpu)
        return {"shape": list(case.ingest_grid.shape), "folds": len(folds),
                "analysis_wall_s_min_median": [round(min(wall), 3), round(float(np.median(wall)), 3)],
                "analysis_cpu_s_min_median": [round(min(cpu), 3), round(float(np.median(cpu)), 3)],
                "load_average_1min": round(os.getloadavg()[0], 2), "cpus": os.cpu_count()}
