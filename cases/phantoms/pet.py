"""PET synthesis: true SUV map, resampling to the PET grid, 1 mm blur, Poisson-like noise,
conversion to Bq/ml with the header's calibration and per-slice 16-bit storage.

SUV (body weight, QIBA) of a stored pixel::

    SUV = value_Bq_per_ml * weight_g / (dose_Bq * 2 ** (-(series_time - injection_time) / T_half))

with ``value = stored * RescaleSlope + RescaleIntercept`` (intercept 0), Units BQML and
DecayCorrection START (pixels decay-corrected to the series start).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
from scipy import ndimage as ndi

from cases.imaging.volume import Grid
from cases.phantoms.config import F18_HALF_LIFE_S, LABEL_FAT, LABEL_FIBRO
from cases.phantoms.fields import resample_linear

PET_MAX_STORED = 32767


@dataclass(frozen=True)
class PetCalibration:
    """Everything the header says about activity and its conversion to SUV."""

    patient_weight_kg: float
    injected_dose_bq: float
    injection_time: datetime
    series_time: datetime
    half_life_s: float = F18_HALF_LIFE_S

    @property
    def uptake_s(self) -> float:
        return (self.series_time - self.injection_time).total_seconds()

    @property
    def decay_factor(self) -> float:
        """Fraction of the injected activity left at the series start."""
        return float(2.0 ** (-self.uptake_s / self.half_life_s))

    @property
    def suv_per_bqml(self) -> float:
        """SUVbw of 1 Bq/ml."""
        return self.patient_weight_kg * 1000.0 / (self.injected_dose_bq * self.decay_factor)

    def to_dict(self) -> dict:
        return {
            "patient_weight_kg": self.patient_weight_kg,
            "injected_dose_bq": self.injected_dose_bq,
            "injection_datetime": self.injection_time.isoformat(),
            "series_datetime": self.series_time.isoformat(),
            "uptake_time_s": self.uptake_s,
            "half_life_s": self.half_life_s,
            "decay_factor": self.decay_factor,
            "suv_per_bqml": self.suv_per_bqml,
            "units": "BQML",
            "decay_correction": "START",
            "formula": "SUVbw = Bq/ml * weight_g / (dose_Bq * 2**(-(series_time - injection_time)/half_life_s))",
        }


def suv_map(
    *,
    labels: np.ndarray,
    suv_fat: float,
    suv_fibro: float,
    modulation: np.ndarray,
    tumour_suv: np.ndarray,
    tumour: np.ndarray,
) -> np.ndarray:
    """True SUV on the CT grid: fat/fibroglandular levels with a smooth +/- modulation,
    tumour SUV where ``tumour``; air, plate and clips 0."""
    out = np.zeros(labels.shape, np.float32)
    fat = labels == LABEL_FAT
    fibro = labels == LABEL_FIBRO
    out[fat] = suv_fat * (1.0 + 0.1 * modulation[fat])
    out[fibro] = suv_fibro * (1.0 + 0.15 * modulation[fibro])
    out[tumour] = tumour_suv[tumour]
    return out


def simulate_pet(
    *,
    suv_ct: np.ndarray,
    ct_grid: Grid,
    pet_grid: Grid,
    fwhm_mm: float,
    noise_rel_at_suv1: float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """(blurred true SUV, noisy SUV) on the PET grid, both float32.

    Partial-volume sampling of the fine SUV map and Gaussian blur of ``fwhm_mm``; the noisy
    image adds Gaussian noise with SD about ``noise_rel * sqrt(SUV) + 0.01`` (Poisson-like)
    correlated over the same blur, clipped at 0 like an OSEM reconstruction.
    """
    sampled = resample_linear(suv_ct, source=ct_grid, target=pet_grid, fill=0.0, box_average=True)
    sigma_vox = (fwhm_mm / (2.0 * np.sqrt(2.0 * np.log(2.0)))) / np.asarray(pet_grid.spacing)
    # Noise is added before the resolution blur so that it shares the reconstruction's
    # correlation length; its amplitude is pre-scaled so the blurred noise has the target SD.
    gain = 1.0 / _filtered_noise_sd(sigma_vox, truncate=3.0)
    sd = np.sqrt(np.maximum(sampled, 0.0))
    sd *= np.float32(noise_rel_at_suv1 * gain)
    sd += np.float32(0.01 * gain)
    noise = rng.standard_normal(pet_grid.shape, dtype=np.float32)
    noise *= sd
    del sd
    blurred = ndi.gaussian_filter(sampled, sigma=sigma_vox, mode="constant", truncate=3.0)
    noise += sampled
    noisy = ndi.gaussian_filter(noise, sigma=sigma_vox, mode="constant", truncate=3.0)
    del noise
    np.maximum(blurred, 0.0, out=blurred)
    np.maximum(noisy, 0.0, out=noisy)
    return blurred, noisy


def _filtered_noise_sd(sigmas, *, truncate: float) -> float:
    """SD of unit white noise after scipy's 3D Gaussian filter (separable discrete kernels)."""
    variance = 1.0
    for sigma in np.broadcast_to(np.asarray(sigmas, float), (3,)):
        radius = int(truncate * sigma + 0.5)
        x = np.arange(-radius, radius + 1)
        w = np.exp(-0.5 * (x / sigma) ** 2)
        w /= w.sum()
        variance *= float(np.sum(w * w))
    return float(np.sqrt(variance))


def format_ds(value: float) -> str:
    """A DICOM DS string of at most 16 characters."""
    for digits in range(10, 3, -1):
        text = f"{value:.{digits}g}"
        if len(text) <= 16:
            return text
    raise ValueError(value)


def store_pet(bqml: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Per-slice int16 storage: (stored [k, j, i] int16, RescaleSlope DS strings per slice).

    The slope written is the one used to quantise (parsed back from its DS string).
    """
    stored = np.empty(bqml.shape, np.int16)
    slopes: list[str] = []
    for k in range(bqml.shape[0]):
        peak = float(bqml[k].max())
        text = format_ds(peak / PET_MAX_STORED) if peak > 0 else "1"
        slope = float(text)
        if peak / slope > PET_MAX_STORED + 0.5:  # rounding in the DS string went down
            text = format_ds(slope * (1 + 1e-6))
            slope = float(text)
        stored[k] = np.clip(np.rint(bqml[k] / slope), 0, PET_MAX_STORED).astype(np.int16)
        slopes.append(text)
    return stored, slopes


def stored_to_suv(*, stored: np.ndarray, slopes: list[str], calibration: PetCalibration) -> np.ndarray:
    """Back from stored values to SUV, as a reader of the header would."""
    scale = np.array([float(s) for s in slopes], np.float64)[:, None, None]
    return (stored.astype(np.float64) * scale * calibration.suv_per_bqml).astype(np.float32)
