"""Ensemble inference: the fold models of one model version, applied slice by slice.

The paper's network is 2D, so a volume (C, Z, Y, X) is segmented as Z axial slices. For each
batch of slices every fold model runs once; the tumour probabilities (softmax channel 1) are
averaged over the folds (the ensemble estimate) and their standard deviation across folds is kept
as a per-voxel uncertainty. The averaged probability is thresholded and small connected
components are removed.

Build the predictor once per worker and reuse it: models stay on the device between cases.
On CUDA inference runs under autocast (bf16 where supported, else fp16) with a default batch of
64 slices; when the GPU runs out of memory the batch is halved and the batch retried, down to
one slice. On CPU all cores are used.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from inference.engine.config import ModelConfig
from inference.engine.network import build_network, pad_multiple
from inference.engine.postprocess import clean_components
from inference.engine.weights import Bundle, StateDict, check_weights_fit

CUDA_DEFAULT_BATCH = 64
CPU_DEFAULT_BATCH = 16


class InferenceMemoryError(RuntimeError):
    """The device ran out of memory even with a batch of one slice."""


@dataclass
class Prediction:
    probability: np.ndarray  # (Z, Y, X) float32: ensemble-mean tumour probability
    uncertainty: np.ndarray  # (Z, Y, X) float32: population std of the fold probabilities
    mask: np.ndarray  # (Z, Y, X) uint8: thresholded and cleaned tumour mask
    fold_probabilities: np.ndarray  # (K, Z, Y, X) float16: each fold's tumour probability
    threshold: float
    fold_count: int
    device: str
    batch_size: int  # the batch size finally used (smaller than asked after an out-of-memory retry)
    timings: dict[str, float] = field(default_factory=dict)  # seconds: network, network_fold_<i>, ...


def resolve_device(device: str | torch.device) -> torch.device:
    """'auto' means CUDA when available, else CPU."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def _autocast_dtype(device: torch.device) -> torch.dtype | None:
    if device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def _usable_cpus() -> int:
    # PETCTWEB_CPU_THREADS caps it: on a shared, oversubscribed CPU one thread per process was
    # measured 13x faster than two (1.7 s vs 22 s for a small case: spinning threads starve).
    cap = os.environ.get("PETCTWEB_CPU_THREADS", "").strip()
    if cap.isdigit() and int(cap) > 0:
        return int(cap)
    # The CPUs this process may run on (a container's affinity), not every core of the host.
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class EnsemblePredictor:
    """Fold models on one device, reusable across cases."""

    def __init__(
        self,
        *,
        models: Sequence[torch.nn.Module],
        config: ModelConfig,
        device: str | torch.device = "auto",
        batch_size: int | None = None,
    ) -> None:
        if not models:
            raise ValueError("an ensemble needs at least one model")
        self.config = config
        self.device = resolve_device(device)
        self.batch_size = int(
            batch_size or (CUDA_DEFAULT_BATCH if self.device.type == "cuda" else CPU_DEFAULT_BATCH)
        )
        if self.batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.autocast_dtype = _autocast_dtype(self.device)
        self.models = [model.to(self.device).eval() for model in models]
        self.in_channels = int(config.network.in_channels)
        self.multiple = pad_multiple(config.network)
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True  # slice shape is fixed within a case

    @classmethod
    def from_state_dicts(
        cls,
        *,
        state_dicts: Sequence[StateDict],
        config: ModelConfig,
        device: str | torch.device = "auto",
        batch_size: int | None = None,
    ) -> EnsemblePredictor:
        models = []
        for state_dict in state_dicts:
            check_weights_fit(state_dict=state_dict, config=config)
            model = build_network(config.network)
            model.load_state_dict(state_dict, strict=True)
            models.append(model)
        return cls(models=models, config=config, device=device, batch_size=batch_size)

    @classmethod
    def from_bundle(
        cls, *, bundle: Bundle, device: str | torch.device = "auto", batch_size: int | None = None
    ) -> EnsemblePredictor:
        return cls.from_state_dicts(
            state_dicts=bundle.state_dicts, config=bundle.config, device=device, batch_size=batch_size
        )

    # -- inference -------------------------------------------------------------------------

    def _forward_batch(
        self, batch: torch.Tensor, fold_seconds: list[float]
    ) -> torch.Tensor:
        """Each fold's tumour probability (K, B, H, W) for a (B, C, H, W) batch on the device."""
        probabilities = []
        for index, model in enumerate(self.models):
            start = time.perf_counter()
            with torch.autocast(
                device_type=self.device.type,
                dtype=self.autocast_dtype,
                enabled=self.autocast_dtype is not None,
            ):
                logits = model(batch)
            # Softmax in float32 whatever the autocast precision.
            probabilities.append(torch.softmax(logits.float(), dim=1)[:, 1])
            _synchronize(self.device)
            fold_seconds[index] += time.perf_counter() - start
        return torch.stack(probabilities)

    def predict(
        self,
        *,
        channels: np.ndarray,
        progress: Callable[[float], None] | None = None,
        threshold: float | None = None,
        spacing: tuple[float, float, float] | None = None,
        min_component_ml: float | None = None,
    ) -> Prediction:
        """Segment a (C, Z, Y, X) volume of prepared channels.

        ``spacing`` (sz, sy, sx) mm sets the voxel volume for the component clean-up; by default
        the configuration's isotropic working spacing. ``threshold`` and ``min_component_ml``
        default to the model configuration; every focus is kept (the margin analysis filters foci). ``progress`` receives fractions in [0, 1].
        """
        channels = np.asarray(channels)
        if channels.ndim != 4:
            raise ValueError(f"channels must be (C, Z, Y, X), got shape {channels.shape}")
        if channels.shape[0] != self.in_channels:
            raise ValueError(
                f"model expects {self.in_channels} input channels, preprocessing gives {channels.shape[0]}"
            )
        threshold = float(self.config.threshold if threshold is None else threshold)
        started = time.perf_counter()
        timings: dict[str, float] = {}
        if self.device.type == "cpu":
            torch.set_num_threads(_usable_cpus())

        _, depth, height, width = channels.shape
        pad_h = (-height) % self.multiple
        pad_w = (-width) % self.multiple
        top, left = pad_h // 2, pad_w // 2
        probability = np.empty((depth, height, width), dtype=np.float32)
        uncertainty = np.empty((depth, height, width), dtype=np.float32)
        # Kept per fold (float16 halves the memory) for the margin confidence interval.
        fold_probabilities = np.empty((len(self.models), depth, height, width), dtype=np.float16)
        fold_seconds = [0.0] * len(self.models)

        with torch.inference_mode():
            start = time.perf_counter()
            # One upload, slices first; zero padding = air / no uptake in the [0, 1] channel scaling.
            volume = torch.from_numpy(np.ascontiguousarray(channels, dtype=np.float32)).to(self.device)
            volume = volume.permute(1, 0, 2, 3)
            if pad_h or pad_w:
                volume = F.pad(volume, (left, pad_w - left, top, pad_h - top))
            _synchronize(self.device)
            timings["upload"] = time.perf_counter() - start

            start = time.perf_counter()
            z = 0
            while z < depth:
                stop = min(depth, z + self.batch_size)
                out_of_memory = False
                try:
                    folds = self._forward_batch(volume[z:stop].contiguous(), fold_seconds)
                except torch.OutOfMemoryError as exc:
                    if self.batch_size == 1:
                        raise InferenceMemoryError(
                            f"out of {self.device.type} memory even with one {height}x{width} slice per batch; "
                            "free device memory or run on the CPU"
                        ) from exc
                    out_of_memory = True
                if out_of_memory:
                    # Outside the except block, so the failed batch's tensors are already released.
                    # Keep the smaller batch for later cases too: the same device would fail again.
                    self.batch_size = max(1, self.batch_size // 2)
                    if self.device.type == "cuda":
                        torch.cuda.empty_cache()
                    continue
                crop = (slice(None), slice(top, top + height), slice(left, left + width))
                folds = folds[(slice(None), *crop)]
                probability[z:stop] = folds.mean(dim=0).cpu().numpy()
                uncertainty[z:stop] = folds.std(dim=0, unbiased=False).cpu().numpy()
                fold_probabilities[:, z:stop] = folds.to(torch.float16).cpu().numpy()
                z = stop
                if progress is not None:
                    progress(z / depth)
            timings["network"] = time.perf_counter() - start
        for index, seconds in enumerate(fold_seconds):
            timings[f"network_fold_{index}"] = seconds

        start = time.perf_counter()
        if spacing is None:
            voxel_volume_ml = self.config.preprocess.working_spacing_mm**3 / 1000.0
        else:
            voxel_volume_ml = float(np.prod(spacing)) / 1000.0
        # Strictly above: at 0.5 this equals the argmax of a two-class softmax (ties go to background).
        mask = clean_components(
            mask=probability > threshold,
            voxel_volume_ml=voxel_volume_ml,
            min_component_ml=self.config.min_component_ml if min_component_ml is None else min_component_ml,
        )
        timings["postprocess"] = time.perf_counter() - start
        timings["total"] = time.perf_counter() - started
        return Prediction(
            probability=probability,
            uncertainty=uncertainty,
            mask=mask,
            fold_probabilities=fold_probabilities,
            threshold=threshold,
            fold_count=len(self.models),
            device=str(self.device),
            batch_size=self.batch_size,
            timings=timings,
        )
