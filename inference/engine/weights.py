"""Model weights on disk: safetensors files with SHA-256 verification, and model bundles.

A fold's ``state_dict`` is stored as safetensors (plain tensors, no pickle, so loading a file can
never execute code). Every load is checked against a recorded SHA-256, so a model version in the
database always means exactly the bytes that were validated.

A *bundle* is a folder holding one trained ensemble::

    model.json              ModelConfig, fold file names + sha256, metrics, training description
    fold_0.safetensors ... fold_4.safetensors

``model.json`` is written last (atomically), so a half-written bundle is never readable.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load as safetensors_load
from safetensors.torch import save as safetensors_save

from inference.engine.config import ModelConfig
from inference.engine.network import build_network

BUNDLE_FORMAT = "petctweb-model-bundle"
BUNDLE_FORMAT_VERSION = 1
MANIFEST_NAME = "model.json"

StateDict = dict[str, torch.Tensor]


class ModelFileError(Exception):
    """A weights file or bundle is missing, corrupt, tampered with or does not fit its configuration."""


def sha256_bytes(*, data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _atomic_write(path: Path, data: bytes) -> None:
    # Write beside the target and rename, so readers never see a partial file.
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as tmp:
            tmp.write(data)
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def save_state_dict(*, state_dict: Mapping[str, torch.Tensor], path: str | Path) -> str:
    """Write ``state_dict`` as safetensors at ``path``; return the file's SHA-256 (hex)."""
    # safetensors wants contiguous CPU tensors that share no storage.
    tensors = {name: tensor.detach().to("cpu").contiguous().clone() for name, tensor in state_dict.items()}
    data = safetensors_save(tensors, metadata={"format": "pt"})
    _atomic_write(Path(path), data)
    return sha256_bytes(data=data)


def load_state_dict(*, path: str | Path, expected_sha256: str | None) -> StateDict:
    """Read a fold's weights, refusing a missing or corrupt file or one whose hash differs.

    ``expected_sha256=None`` skips the hash check (only for files not yet registered anywhere).
    Legacy ``.pt``/``.pth`` files are accepted only through ``torch.load(weights_only=True)``.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ModelFileError(f"weights file {path} is missing") from None
    except OSError as exc:
        raise ModelFileError(f"weights file {path} cannot be read: {exc}") from exc
    actual = sha256_bytes(data=data)
    if expected_sha256 is not None and actual != expected_sha256.lower():
        raise ModelFileError(
            f"weights file {path} has SHA-256 {actual}, expected {expected_sha256}: "
            "the file was changed or corrupted after registration"
        )
    try:
        if path.suffix in (".pt", ".pth"):
            loaded = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
            if isinstance(loaded, Mapping) and "state_dict" in loaded:
                loaded = loaded["state_dict"]
        else:
            loaded = safetensors_load(data)
    except pickle.UnpicklingError as exc:
        raise ModelFileError(f"weights file {path} holds objects other than tensors; refused: {exc}") from exc
    except (SafetensorError, RuntimeError, ValueError, EOFError, OSError) as exc:
        raise ModelFileError(f"weights file {path} is corrupt or not a weights file: {exc}") from exc
    if not isinstance(loaded, Mapping) or not all(isinstance(v, torch.Tensor) for v in loaded.values()):
        raise ModelFileError(f"weights file {path} does not hold a state_dict of tensors")
    return dict(loaded)


def weights_in_channels(*, state_dict: Mapping[str, torch.Tensor], config: ModelConfig) -> int:
    """Input channels the weights were trained with (from the network's first convolution)."""
    reference = build_network(config.network)
    conv_ndim = config.network.spatial_dims + 2
    # Module order == forward order for MONAI's UNet; the first conv kernel reads the input.
    for name, parameter in reference.state_dict().items():
        if parameter.ndim == conv_ndim and name.endswith("weight"):
            if name not in state_dict:
                raise ModelFileError(
                    f"weights lack the first convolution {name!r}; not a {config.architecture}"
                )
            return int(state_dict[name].shape[1])
    raise ModelFileError("the configured network has no convolution")  # pragma: no cover


def check_weights_fit(*, state_dict: Mapping[str, torch.Tensor], config: ModelConfig) -> None:
    """Raise ModelFileError unless config, preprocessing and weights agree on every shape."""
    prepared = len(config.preprocess.channels)
    if config.network.in_channels != prepared:
        raise ModelFileError(
            f"model expects {config.network.in_channels} input channels, preprocessing gives {prepared} "
            f"({', '.join(config.preprocess.channels)})"
        )
    trained = weights_in_channels(state_dict=state_dict, config=config)
    if trained != prepared:
        raise ModelFileError(
            f"model expects {trained} input channels, preprocessing gives {prepared} "
            f"({', '.join(config.preprocess.channels)})"
        )
    network = build_network(config.network)
    try:
        network.load_state_dict(dict(state_dict), strict=True)
    except RuntimeError as exc:
        raise ModelFileError(f"weights do not fit the configured network: {exc}") from exc


@dataclass(frozen=True)
class FoldFile:
    file: str  # name inside the bundle folder
    sha256: str


@dataclass(frozen=True)
class Bundle:
    """A verified ensemble: configuration, fold weights (already loaded) and their provenance."""

    path: Path
    config: ModelConfig
    folds: tuple[FoldFile, ...]
    state_dicts: tuple[StateDict, ...] = field(repr=False)
    metrics: dict
    training: dict
    name: str
    version: str
    manifest_sha256: str  # SHA-256 of model.json: one hash that pins config and all fold hashes


def write_bundle(
    *,
    path: str | Path,
    config: ModelConfig,
    state_dicts: Sequence[Mapping[str, torch.Tensor]],
    metrics: dict | None = None,
    training: dict | None = None,
    name: str = "",
    version: str = "",
    overwrite: bool = False,
) -> Bundle:
    """Write fold_<i>.safetensors and model.json into folder ``path``; return the bundle as read back."""
    path = Path(path)
    if not state_dicts:
        raise ValueError("a bundle needs at least one fold")
    if (path / MANIFEST_NAME).exists() and not overwrite:
        raise ModelFileError(f"{path} already holds a model bundle; pass overwrite=True to replace it")
    for state_dict in state_dicts:
        check_weights_fit(state_dict=state_dict, config=config)
    folds = []
    for index, state_dict in enumerate(state_dicts):
        file_name = f"fold_{index}.safetensors"
        digest = save_state_dict(state_dict=state_dict, path=path / file_name)
        folds.append({"file": file_name, "sha256": digest})
    manifest = {
        "format": BUNDLE_FORMAT,
        "format_version": BUNDLE_FORMAT_VERSION,
        "name": name,
        "version": version,
        "config": config.to_dict(),
        "folds": folds,
        "metrics": metrics or {},
        "training": training or {},
    }
    _atomic_write(path / MANIFEST_NAME, json.dumps(manifest, indent=2, sort_keys=True).encode())
    return read_bundle(path)


def read_bundle(path: str | Path) -> Bundle:
    """Read a bundle folder, verifying every fold's hash and that the weights fit the configuration."""
    path = Path(path)
    manifest_path = path / MANIFEST_NAME
    try:
        raw = manifest_path.read_bytes()
    except FileNotFoundError:
        raise ModelFileError(f"{path} is not a model bundle: {MANIFEST_NAME} is missing") from None
    try:
        manifest = json.loads(raw)
        if manifest.get("format") != BUNDLE_FORMAT:
            raise ValueError(f"format is {manifest.get('format')!r}, expected {BUNDLE_FORMAT!r}")
        if int(manifest.get("format_version", 0)) > BUNDLE_FORMAT_VERSION:
            raise ValueError(f"format_version {manifest['format_version']} is newer than this software")
        config = ModelConfig.from_dict(manifest["config"])
        folds = tuple(FoldFile(file=str(f["file"]), sha256=str(f["sha256"])) for f in manifest["folds"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ModelFileError(f"{manifest_path} is not a valid bundle manifest: {exc}") from exc
    if not folds:
        raise ModelFileError(f"{manifest_path} lists no folds")
    state_dicts = []
    for fold in folds:
        if Path(fold.file).name != fold.file:  # a manifest must not point outside its folder
            raise ModelFileError(f"{manifest_path} names fold file {fold.file!r} outside the bundle")
        state_dict = load_state_dict(path=path / fold.file, expected_sha256=fold.sha256)
        check_weights_fit(state_dict=state_dict, config=config)
        state_dicts.append(state_dict)
    return Bundle(
        path=path,
        config=config,
        folds=folds,
        state_dicts=tuple(state_dicts),
        metrics=dict(manifest.get("metrics") or {}),
        training=dict(manifest.get("training") or {}),
        name=str(manifest.get("name", "")),
        version=str(manifest.get("version", "")),
        manifest_sha256=sha256_bytes(data=raw),
    )
