"""The training report: report.json (machine-readable) and report.png (learning curves per fold)."""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: workers and CI have no display
import matplotlib.pyplot as plt  # noqa: E402 - must follow the backend choice

from training.loop.loop import FoldMetrics  # noqa: E402


def jsonable(value):
    """NaN/inf become null (JSON has no NaN); tuples become lists; numpy scalars become Python numbers."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_json(*, path: Path, payload: dict) -> Path:
    """Write atomically (temp file + rename): a crashed run never leaves half a report."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(handle, "w") as file:
        json.dump(jsonable(payload), file, indent=2, sort_keys=True, allow_nan=False)
    os.replace(tmp, path)
    return path


def plot_learning_curves(*, path: Path, folds: Sequence[FoldMetrics], title: str = "") -> Path:
    """Two panels: training/validation loss and validation Dice per epoch, one colour per fold."""
    figure, (loss_axis, dice_axis) = plt.subplots(1, 2, figsize=(11, 4.2))
    for metrics in folds:
        epochs = [record.epoch for record in metrics.history]
        colour = f"C{metrics.fold % 10}"
        label = f"fold {metrics.fold + 1}"
        loss_axis.plot(epochs, [r.train_loss for r in metrics.history], color=colour, label=f"{label} train")
        loss_axis.plot(
            epochs, [r.val_loss for r in metrics.history], color=colour, linestyle="--", label=f"{label} val"
        )
        dice_axis.plot(
            epochs, [r.val_dice_mean for r in metrics.history], color=colour, marker=".", label=label
        )
        if metrics.best_epoch:
            dice_axis.plot(
                [metrics.best_epoch], [metrics.val_dice_mean], color=colour, marker="*", markersize=12
            )
    loss_axis.set(
        xlabel="epoch", ylabel="Dice + cross-entropy loss", title="Loss (solid: train, dashed: validation)"
    )
    dice_axis.set(
        xlabel="epoch",
        ylabel="validation Dice (mean over tumour slices)",
        ylim=(0, 1),
        title="Validation Dice (* = kept)",
    )
    loss_axis.legend(fontsize=7, ncol=2)
    dice_axis.legend(fontsize=7)
    for axis in (loss_axis, dice_axis):
        axis.grid(alpha=0.3)
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
