"""Run the whole pipeline synchronously on a DICOM folder/zip or an existing case."""

import json
import tempfile
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from cases.imaging.errors import IngestError
from cases.imaging.study import load_studies
from cases.models import Case
from cases.selectors import case_source_ct_headers, case_volume_array
from inference.engine.exports import mask_to_dicom_seg, mask_to_nifti
from inference.engine.pipeline import predict_case, summarise_margin
from inference.engine.weights import ModelFileError
from inference.registry import predictor_for
from inference.selectors import model_version_get
from inference.services import resolve_device
from petctweb.errors import DomainError


class Command(BaseCommand):
    help = "Segment the tumour and call margin status for a DICOM folder/zip or a case code, synchronously."

    def add_arguments(self, parser):
        parser.add_argument("target", help="a DICOM folder, file or .zip, or an existing case code")
        parser.add_argument("--json", action="store_true")
        parser.add_argument("--seg-out", type=Path, help="write the mask as DICOM SEG referencing the CT")
        parser.add_argument("--nifti-out", type=Path, help="write the mask as NIfTI (patient-space affine)")
        parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
        parser.add_argument("--model", default="", help="name:version (default: the default model)")
        parser.add_argument("--threshold-mm", type=float, default=None)

    def handle(self, *args, target: str, **options):
        model_version = model_version_get(label=options["model"])
        if model_version is None:
            raise CommandError(f"no model '{options['model'] or 'default'}' is registered; run seed_demo or register_model")
        threshold = settings.PETCTWEB_MARGIN_THRESHOLD_MM if options["threshold_mm"] is None else options["threshold_mm"]
        if threshold < 0:
            raise CommandError("--threshold-mm must be 0 or more")
        timings: dict[str, float] = {}
        started = time.perf_counter()
        try:
            device = resolve_device(options["device"])
            inputs = self._inputs(target)
            timings["load_s"] = time.perf_counter() - started
            started = time.perf_counter()
            predictor = predictor_for(model_version=model_version, device=device)
            timings["model_load_s"] = time.perf_counter() - started
            result = predict_case(ct_hu=inputs["ct"], pet=inputs["pet"], suv_factor=inputs["suv_factor"], grid=inputs["grid"],
                                  predictor=predictor, threshold_mm=threshold)
        except (DomainError, IngestError) as exc:
            raise CommandError(getattr(exc, "message", str(exc))) from exc
        except ModelFileError as exc:
            raise CommandError(f"model files unusable: {exc}") from exc
        timings.update(result.timings)
        started = time.perf_counter()
        if options["nifti_out"]:
            options["nifti_out"].write_bytes(mask_to_nifti(mask=result.mask, grid=inputs["grid"]))
        if options["seg_out"]:
            seg = mask_to_dicom_seg(mask_working=result.mask, working_grid=inputs["grid"], source_ct_datasets=inputs["headers"],
                                    ct_grid=inputs["ct_grid"], model_name=model_version.name, model_version=model_version.version,
                                    series_description="Tumour (model)")
            seg.save_as(options["seg_out"], enforce_file_format=True)
        if options["nifti_out"] or options["seg_out"]:
            timings["export_s"] = time.perf_counter() - started
        summary = summarise_margin(result.margin)
        report = {
            "source": inputs["label"],
            "margin_status": summary["status"],
            "closest_margin_mm": summary["closest_margin_mm"],
            "margin_threshold_mm": threshold,
            "faces": summary["faces"],
            "closest_point": summary["closest_point"],
            "margin_interval_mm": summary["interval_mm"],
            "fold_margins": summary["folds"],
            "n_foci": summary["n_foci"],
            "tumour_volume_ml": summary["tumour_volume_ml"],
            "suv_max": summary["suv_max"],
            "suv_mean": summary["suv_mean"],
            "pet_input": result.pet_mode,
            "model_version": model_version.label,
            "device": device,
            "timings": {key: round(value, 3) for key, value in timings.items()},
        }
        if options["json"]:
            self.stdout.write(json.dumps(report, indent=2, allow_nan=False))
        else:
            distance = report["closest_margin_mm"]
            self.stdout.write(
                f"{inputs['label']}: margin {report['margin_status']}"
                + (f", closest {distance:.2f} mm" if distance is not None else "")
                + (f" (folds {report['margin_interval_mm'][0]:.2f}-{report['margin_interval_mm'][1]:.2f} mm)"
                   if report["margin_interval_mm"] else "")
                + f" (threshold {threshold} mm, model {model_version.label}, {sum(timings.values()):.1f} s)"
            )

    def _inputs(self, target: str) -> dict:
        path = Path(target)
        if path.exists():
            with tempfile.TemporaryDirectory() as scratch:
                studies = load_studies(path=path, working_spacing_mm=settings.PETCTWEB_WORKING_SPACING_MM,
                                       deid_secret=settings.PETCTWEB_DEID_SECRET, temp_parent=Path(scratch))
            if len(studies) != 1:
                raise CommandError(f"{target} holds {len(studies)} studies; predict takes one (import them instead)")
            study = studies[0]
            return {"label": str(path), "ct": study.ct_working.array, "pet": study.pet_working.array,
                    "suv_factor": study.suv.factor, "grid": study.ct_working.grid, "ct_grid": study.ct_acquired,
                    "headers": study.source_ct_datasets}
        case = Case.objects.filter(code=target).first()
        if case is None:
            raise CommandError(f"'{target}' is neither an existing path nor a case code")
        from cases.imaging.volume import Grid

        return {"label": case.code, "ct": case_volume_array(case=case, kind="ct"), "pet": case_volume_array(case=case, kind="pet"),
                "suv_factor": case.suv_factor, "grid": case.grid, "ct_grid": Grid.from_dict(case.ct_acquired),
                "headers": case_source_ct_headers(case=case)}
