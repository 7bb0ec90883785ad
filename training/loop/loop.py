"""Train one cross-validation fold: 2D residual U-Net, Dice + cross-entropy, best-on-validation checkpoint.

Validation runs every epoch and reports Dice as the paper does: mean +/- SD over images, where an
image is a validation slice that contains tumour. The best epoch's weights are kept in memory
(a state dict copied to CPU); nothing is written here.
"""

from __future__ import annotations

import copy
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from monai.data import get_track_meta, set_track_meta
from monai.losses import DiceCELoss
from monai.utils import set_determinism
from tqdm.auto import tqdm

from inference.engine.config import ModelConfig
from inference.engine.network import build_network
from training.loop.augment import IMAGE, LABEL, build_augmentation
from training.loop.data import SliceSet
from training.loop.validation import TrainingInputError

ProgressCallback = Callable[[float, str], None]  # (fraction done in [0, 1], message)


@dataclass(frozen=True)
class TrainSettings:
    """Optimisation settings for one fold (shared by all folds of an ensemble)."""

    epochs: int
    batch_size: int = 16
    lr: float = 2e-3
    weight_decay: float = 1e-4
    schedule: str = "onecycle"  # "onecycle" or "cosine" (both stepped per batch)
    seed: int = 0
    device: str = "auto"  # "auto", "cpu" or "cuda"
    augment: bool = True
    augment_strength: float = 1.0
    show_progress: bool = True  # tqdm bars on stderr
    # Probability level of the validation Dice that picks the best epoch; None = the model's decision
    # level (config.threshold). A fixed level lets the decision level be re-tuned without retraining.
    checkpoint_level: float | None = None


@dataclass(frozen=True)
class EpochRecord:
    epoch: int  # 1-based
    train_loss: float
    val_loss: float
    val_dice_mean: float  # over validation slices with tumour; nan when there are none
    val_dice_sd: float
    seconds: float


@dataclass
class FoldMetrics:
    fold: int
    val_patients: tuple[str, ...]
    train_slices: int
    val_slices: int
    val_tumour_slices: int
    best_epoch: int
    val_dice_mean: float
    val_dice_sd: float
    val_dices: list[float]  # per validation tumour slice, at the best epoch
    val_tumour_pixels: list[int] = field(default_factory=list)  # tumour pixels of those slices, same order
    history: list[EpochRecord] = field(default_factory=list)
    train_seconds: float = 0.0
    slices_per_second: float = 0.0  # training throughput (augmentation + forward + backward)


@dataclass
class FoldResult:
    state_dict: dict[str, torch.Tensor]  # best epoch, on CPU; loadable by build_network(config.network)
    metrics: FoldMetrics


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise TrainingInputError("device 'cuda' was requested but no CUDA GPU is available")
    if device not in ("cpu", "cuda"):
        raise TrainingInputError(f"device must be auto, cpu or cuda, got {device!r}")
    return torch.device(device)


def training_threads() -> int:
    """CPU threads for training: PETCTWEB_CPU_THREADS when set (as for inference), else every core.

    On a shared, oversubscribed 2-core machine (load 12) two threads trained this network at
    1 slice/s and one thread at 23: spinning threads starve each other.
    """
    cap = os.environ.get("PETCTWEB_CPU_THREADS", "").strip()
    if cap.isdigit() and int(cap) > 0:
        return int(cap)
    return os.cpu_count() or 1


def seed_everything(seed: int) -> None:
    """torch, numpy, python and MONAI seeds (MONAI also makes cuDNN deterministic)."""
    set_determinism(seed=seed)
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)


class _Slices(torch.utils.data.Dataset):
    """SliceSet as tensors, optionally through the augmentation pipeline."""

    def __init__(self, *, slices: SliceSet, augmentation=None) -> None:
        self.slices = slices
        self.augmentation = augmentation

    def __len__(self) -> int:
        return len(self.slices)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        image = torch.from_numpy(self.slices.images[index])
        label = torch.from_numpy(self.slices.masks[index][None].astype(np.float32))
        if self.augmentation is not None:
            sample = self.augmentation({IMAGE: image, LABEL: label})
            image, label = torch.as_tensor(sample[IMAGE]), torch.as_tensor(sample[LABEL])
        return image.float().contiguous(), (label > 0.5).float().contiguous()


def dice_per_slice(*, prediction: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Dice of each (H, W) pair; 1.0 when both are empty."""
    prediction = prediction.reshape(prediction.shape[0], -1).astype(bool)
    truth = truth.reshape(truth.shape[0], -1).astype(bool)
    overlap = (prediction & truth).sum(axis=1)
    total = prediction.sum(axis=1) + truth.sum(axis=1)
    return np.where(total > 0, 2.0 * overlap / np.maximum(total, 1), 1.0)


def _autocast(device: torch.device):
    # Mixed precision only on CUDA; CPU autocast (bfloat16) is slower than float32 on most CPUs.
    return torch.autocast(device_type="cuda", dtype=torch.float16, enabled=device.type == "cuda")


@torch.no_grad()
def predict_slices(
    *, model: torch.nn.Module, images: np.ndarray, device: torch.device, batch_size: int = 32
) -> np.ndarray:
    """Tumour probability (N, H, W) for (N, C, H, W) images."""
    model.eval()
    out = []
    for start in range(0, len(images), batch_size):
        batch = torch.from_numpy(images[start : start + batch_size]).to(device)
        with _autocast(device):
            logits = model(batch)
        out.append(torch.softmax(logits.float(), dim=1)[:, 1].cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0,) + images.shape[2:], dtype=np.float32)


def _validate(
    *, model, val: SliceSet, loss_fn, device: torch.device, batch_size: int, threshold: float
) -> tuple[float, np.ndarray]:
    model.eval()
    losses, probabilities = [], []
    with torch.no_grad():
        for start in range(0, len(val), batch_size):
            images = torch.from_numpy(val.images[start : start + batch_size]).to(device)
            labels = torch.from_numpy(val.masks[start : start + batch_size][:, None].astype(np.float32)).to(
                device
            )
            with _autocast(device):
                logits = model(images)
            logits = logits.float()
            losses.append(float(loss_fn(logits, labels)) * len(images))
            probabilities.append(torch.softmax(logits, dim=1)[:, 1].cpu().numpy())
    probability = np.concatenate(probabilities)
    has_tumour = val.has_tumour
    dices = dice_per_slice(prediction=probability[has_tumour] >= threshold, truth=val.masks[has_tumour])
    return sum(losses) / max(len(val), 1), dices


def _scheduler(*, optimiser, settings: TrainSettings, total_steps: int):
    if settings.schedule == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(
            optimiser, max_lr=settings.lr, total_steps=max(total_steps, 1), pct_start=0.2
        )
    if settings.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=max(total_steps, 1))
    raise TrainingInputError(f"schedule must be 'onecycle' or 'cosine', got {settings.schedule!r}")


def train_fold(
    *,
    train: SliceSet,
    val: SliceSet,
    config: ModelConfig,
    settings: TrainSettings,
    fold: int = 0,
    progress: ProgressCallback | None = None,
    progress_span: tuple[float, float] = (0.0, 1.0),
) -> FoldResult:
    """Train on ``train``, validate on ``val`` every epoch, return the best epoch's weights and metrics."""
    if len(train) == 0 or len(val) == 0:
        raise TrainingInputError(f"fold {fold + 1} has no training or no validation slices")
    if settings.epochs < 1 or settings.batch_size < 1:
        raise TrainingInputError("epochs and batch size must be at least 1")
    if settings.checkpoint_level is not None and not 0.0 < settings.checkpoint_level < 1.0:
        raise TrainingInputError(f"checkpoint level must be within (0, 1), got {settings.checkpoint_level}")
    device = resolve_device(settings.device)
    if device.type == "cpu":
        torch.set_num_threads(training_threads())
    fold_seed = settings.seed + 1000 * fold
    seed_everything(fold_seed)

    model = build_network(config.network).to(device)
    augmentation = (
        build_augmentation(
            seed=fold_seed, slice_size=train.images.shape[-1], strength=settings.augment_strength
        )
        if settings.augment
        else None
    )
    generator = torch.Generator().manual_seed(fold_seed)
    loader = torch.utils.data.DataLoader(
        _Slices(slices=train, augmentation=augmentation),
        batch_size=settings.batch_size,
        shuffle=True,
        drop_last=len(train) > settings.batch_size,  # avoid a 1-slice last batch; keep tiny sets whole
        generator=generator,
        num_workers=0,  # the augmentation's random state lives in this process: deterministic
    )
    # Dice on the tumour class only (cross-entropy covers the background), computed over the whole
    # batch: with tumour-free slices in the set, per-slice Dice and a background Dice both reward
    # predicting nothing, and training was seen to collapse into that (validation Dice 0) at lr 3e-3.
    loss_fn = DiceCELoss(to_onehot_y=True, softmax=True, include_background=False, batch=True)
    optimiser = torch.optim.AdamW(model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
    total_steps = settings.epochs * len(loader)
    scheduler = _scheduler(optimiser=optimiser, settings=settings, total_steps=total_steps)
    scaler = torch.amp.GradScaler("cuda", enabled=device.type == "cuda")

    history: list[EpochRecord] = []
    best_score, best_epoch, best_state, best_dices = -np.inf, 0, None, np.array([])
    train_seconds, slices_seen, step = 0.0, 0, 0
    span_start, span_end = progress_span
    bar = tqdm(total=total_steps, desc=f"fold {fold + 1}", disable=not settings.show_progress, leave=False)
    track_meta = get_track_meta()
    set_track_meta(False)  # plain tensors through the transforms: ~2x faster augmentation, no metadata needed
    try:
        for epoch in range(1, settings.epochs + 1):
            model.train()
            epoch_start = time.perf_counter()
            loss_sum, loss_count = 0.0, 0
            for images, labels in loader:
                images, labels = images.to(device), labels.to(device)
                optimiser.zero_grad(set_to_none=True)
                with _autocast(device):
                    loss = loss_fn(model(images), labels)
                scaler.scale(loss).backward()
                scaler.step(optimiser)
                scaler.update()
                scheduler.step()
                loss_sum += float(loss.detach()) * len(images)
                loss_count += len(images)
                step += 1
                bar.update(1)
                bar.set_postfix(epoch=epoch, loss=f"{loss_sum / loss_count:.3f}")
            epoch_train_seconds = time.perf_counter() - epoch_start
            train_seconds += epoch_train_seconds
            slices_seen += loss_count

            val_loss, dices = _validate(
                model=model,
                val=val,
                loss_fn=loss_fn,
                device=device,
                batch_size=max(settings.batch_size, 32),
                threshold=config.threshold if settings.checkpoint_level is None else settings.checkpoint_level,
            )
            dice_mean = float(dices.mean()) if dices.size else float("nan")
            dice_sd = float(dices.std()) if dices.size else float("nan")
            history.append(
                EpochRecord(
                    epoch=epoch,
                    train_loss=loss_sum / max(loss_count, 1),
                    val_loss=val_loss,
                    val_dice_mean=dice_mean,
                    val_dice_sd=dice_sd,
                    seconds=time.perf_counter() - epoch_start,
                )
            )
            # Best = highest validation Dice; without tumour slices in validation, lowest validation loss.
            score = dice_mean if dices.size else -val_loss
            if score > best_score:
                best_score, best_epoch, best_dices = score, epoch, dices
                best_state = {k: v.detach().to("cpu").clone() for k, v in model.state_dict().items()}
            bar.set_postfix(epoch=epoch, loss=f"{history[-1].train_loss:.3f}", dice=f"{dice_mean:.3f}")
            if progress is not None:
                fraction = span_start + (span_end - span_start) * epoch / settings.epochs
                progress(
                    fraction,
                    f"fold {fold + 1} epoch {epoch}/{settings.epochs}: loss {history[-1].train_loss:.3f}, "
                    f"validation Dice {dice_mean:.3f}",
                )
    finally:
        set_track_meta(track_meta)
        bar.close()

    has_tumour = val.has_tumour
    metrics = FoldMetrics(
        fold=fold,
        val_patients=tuple(sorted(set(val.patient_ids))),
        train_slices=len(train),
        val_slices=len(val),
        val_tumour_slices=int(has_tumour.sum()),
        best_epoch=best_epoch,
        val_dice_mean=float(best_dices.mean()) if best_dices.size else float("nan"),
        val_dice_sd=float(best_dices.std()) if best_dices.size else float("nan"),
        val_dices=[float(d) for d in best_dices],
        val_tumour_pixels=[int(n) for n in val.masks[has_tumour].reshape(int(has_tumour.sum()), -1).sum(axis=1)],
        history=history,
        train_seconds=train_seconds,
        slices_per_second=slices_seen / train_seconds if train_seconds > 0 else 0.0,
    )
    return FoldResult(state_dict=copy.copy(best_state), metrics=metrics)
