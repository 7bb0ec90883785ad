"""The model registry: ensembles stored as verified bundles under PETCTWEB_MODEL_ROOT.

Workers build predictors lazily and cache them per process (CUDA must not be initialised
before the worker forks).
"""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

from django.conf import settings
from django.db import transaction

from audit.services import audit_record
from inference.engine.weights import ModelFileError, read_bundle
from inference.models import ModelFold, ModelVersion
from petctweb.errors import DomainError

_cache_lock = threading.Lock()
_predictor_cache: dict[tuple[int, str], object] = {}


def bundle_path(model_version: ModelVersion) -> Path:
    return Path(settings.PETCTWEB_MODEL_ROOT) / model_version.bundle_dir


def model_version_register(
    *, source_dir: Path, name: str, version: str, make_default: bool = False, user=None
) -> ModelVersion:
    """Copy a trained bundle into the registry, verify every fold hash and record it."""
    try:
        bundle = read_bundle(Path(source_dir))
    except ModelFileError as exc:
        raise DomainError(f"cannot register model: {exc}", code="invalid_model") from exc
    if ModelVersion.objects.filter(name=name, version=version).exists():
        raise DomainError(f"model {name}:{version} is already registered", code="duplicate_model", http_status=409)
    relative = f"{name}/{version}"
    target = Path(settings.PETCTWEB_MODEL_ROOT) / relative
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(source_dir, target)
    try:
        read_bundle(target)  # the copy must verify too
        with transaction.atomic():
            if make_default:
                ModelVersion.objects.filter(is_default=True).update(is_default=False)
            model_version = ModelVersion.objects.create(
                name=name,
                version=version,
                architecture=bundle.config.architecture,
                config=bundle.config.to_dict(),
                bundle_dir=relative,
                training_description=bundle.training,
                metrics=bundle.metrics,
                is_default=make_default,
            )
            for index, fold in enumerate(bundle.folds):
                ModelFold.objects.create(model_version=model_version, fold=index, file_name=fold.file, sha256=fold.sha256)
            audit_record(actor=user, action="model.register", object_type="model_version", object_id=model_version.pk,
                         detail={"name": name, "version": version, "default": make_default})
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise
    return model_version


def model_version_set_default(*, model_version: ModelVersion, user=None) -> None:
    with transaction.atomic():
        ModelVersion.objects.filter(is_default=True).exclude(pk=model_version.pk).update(is_default=False)
        ModelVersion.objects.filter(pk=model_version.pk).update(is_default=True)
        audit_record(actor=user, action="model.set_default", object_type="model_version", object_id=model_version.pk)


def predictor_for(*, model_version: ModelVersion, device: str):
    """The cached EnsemblePredictor of this process for a model version and device."""
    from inference.engine.predictor import EnsemblePredictor

    key = (model_version.pk, device)
    with _cache_lock:
        predictor = _predictor_cache.get(key)
        if predictor is None:
            bundle = read_bundle(bundle_path(model_version))
            registered = {f.fold: f.sha256 for f in model_version.folds.all()}
            found = {index: f.sha256 for index, f in enumerate(bundle.folds)}
            if registered != found:
                raise ModelFileError(f"model {model_version.label}: fold files differ from the registry's hashes")
            predictor = EnsemblePredictor.from_bundle(bundle=bundle, device=device)
            _predictor_cache[key] = predictor
    return predictor


def predictor_cache_clear() -> None:
    with _cache_lock:
        _predictor_cache.clear()
