"""Train a patient-grouped K-fold ensemble and register it as one model version."""

import json
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from inference.engine.config import ModelConfig, PreprocessConfig
from inference.registry import model_version_register
from petctweb.errors import DomainError
from training.loop.demo import DEMO_TRAINING, run_demo
from training.loop.ensemble import train_ensemble
from training.loop.sources import cases_from_data
from training.loop.validation import TrainingInputError


class Command(BaseCommand):
    help = "Train a K-fold residual U-Net ensemble (published protocol) and register it in the model registry."

    def add_arguments(self, parser):
        parser.add_argument("--data", type=Path, help="make_phantoms folder, or a folder of cases (DICOM/NIfTI + masks)")
        parser.add_argument("--test-data", type=Path, help="held-out cases for the ensemble's margin F1")
        parser.add_argument("--demo", action="store_true", help="generate phantoms and train with the demo settings")
        parser.add_argument("--folds", type=int, default=5)
        parser.add_argument("--epochs", type=int, default=None)
        parser.add_argument("--batch-size", type=int, default=16)
        parser.add_argument("--lr", type=float, default=3e-3)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
        parser.add_argument("--out", type=Path, help="bundle and report folder (default var/training/<time>)")
        parser.add_argument("--min-focus-volume-mm3", type=float, default=5.0,
                            help="tumour foci smaller than this are ignored by the margin analysis")
        parser.add_argument("--register", default="", help="NAME:VERSION to register the ensemble under")
        parser.add_argument("--default", action="store_true", help="make the registered model the default")

    def handle(self, *args, **options):
        out = options["out"] or Path(settings.VAR_DIR) / "training" / datetime.now().strftime("%Y%m%d-%H%M%S")
        label = options["register"]
        if label and ":" not in label:
            raise CommandError("--register takes NAME:VERSION")
        if options["folds"] < 2:
            raise CommandError("--folds must be at least 2")
        try:
            if options["demo"]:
                demo = DEMO_TRAINING if options["epochs"] is None else replace(DEMO_TRAINING, epochs=options["epochs"])
                result = run_demo(out_dir=out, settings=demo, device=options["device"], overwrite=True)
            else:
                if options["data"] is None or not options["data"].is_dir():
                    raise CommandError("--data must be a folder (or use --demo)")
                config = ModelConfig(preprocess=PreprocessConfig(working_spacing_mm=settings.PETCTWEB_WORKING_SPACING_MM),
                                     min_focus_volume_mm3=options["min_focus_volume_mm3"])
                cases = cases_from_data(path=options["data"], config=config.preprocess)
                test_cases = cases_from_data(path=options["test_data"], config=config.preprocess) if options["test_data"] else None
                result = train_ensemble(
                    cases=cases, config=config, folds=options["folds"], epochs=options["epochs"] or 30,
                    batch_size=options["batch_size"], lr=options["lr"], seed=options["seed"], device=options["device"],
                    test_cases=test_cases, out_dir=out, name=label.partition(":")[0], version=label.partition(":")[2],
                    overwrite=True,
                )
        except TrainingInputError as exc:
            raise CommandError(str(exc)) from exc
        summary = {
            "bundle": str(result.bundle_dir),
            "report": str(result.report_json),
            "cv_dice_mean": result.cv_dice_mean,
            "cv_dice_sd": result.cv_dice_sd,
            "cv_images": result.cv_images,
            "cv_dice_substantial_slices": result.cv_substantial,
            "test": result.test_metrics.summary() if result.test_metrics else None,
            "throughput_slices_per_s": result.throughput_slices_per_s,
            "device": result.device,
        }
        self.stdout.write(json.dumps(summary, indent=2, default=str))
        if label:
            name, _, version = label.partition(":")
            try:
                model_version = model_version_register(source_dir=result.bundle_dir, name=name, version=version,
                                                       make_default=options["default"])
            except DomainError as exc:
                raise CommandError(exc.message) from exc
            self.stdout.write(self.style.SUCCESS(f"registered {model_version.label}"))
