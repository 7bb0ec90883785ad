"""QC flags of a specimen surface: plain ``{"code", "message"}`` dicts a reader can act on.

Volume limits: a breast lumpectomy specimen is typically 20-300 ml; the bench-top micro-PET-CT
bore (about 7.6 cm) and axial field (13 cm) cannot hold much more than a 7 x 7 x 12 cm specimen,
about 500 ml as an ellipsoid-to-box compromise. Below 1 ml (a 12 mm cube) the "specimen" is a
fragment or the segmentation failed. Either way a reader must look before trusting a margin.

Wrapping layer: bag film is 0.1-0.3 mm thick (-150..0 HU, so at most about 0.35 mm of tissue
equivalent) and its measured thickness only ever reads lower (blurred tails below the sheet
threshold are not counted). A peeled layer thicker than 0.5 mm - one working-grid voxel, beyond any
film plus its measurement noise - is not film: it is an unfitted container wall or a fluid layer,
which the specimen has merged with at the contact, so the margin on that side reads too wide.
"""

from __future__ import annotations

import numpy as np

MIN_VOLUME_ML = 1.0
MAX_VOLUME_ML = 500.0
LEAK_FRACTION = 0.05  # share of the specimen's volume in attached thin sheets
MAX_FILM_MM = 0.5  # thicker "film" is a wall or fluid layer (module doc)


def qc_flags(
    *,
    mask: np.ndarray,
    spacing: tuple[float, float, float],
    walls: list,
    leak_fraction: float,
    film_mm: float,
) -> list[dict]:
    flags: list[dict] = []
    volume_ml = float(mask.sum()) * float(np.prod(spacing)) / 1000.0
    if not mask.any():
        return [{"code": "no_specimen", "message": "No specimen was found in the CT."}]
    edge = mask[[0, -1]].any() or mask[:, [0, -1]].any() or mask[:, :, [0, -1]].any()
    if edge:
        flags.append(
            {
                "code": "fov_edge",
                "message": "The specimen touches the edge of the CT field of view: part of it may be "
                "missing, so margins on that side are unknown.",
            }
        )
    if not MIN_VOLUME_ML <= volume_ml <= MAX_VOLUME_ML:
        flags.append(
            {
                "code": "implausible_volume",
                "message": f"Specimen volume {volume_ml:.1f} ml is outside the plausible "
                f"{MIN_VOLUME_ML:g}-{MAX_VOLUME_ML:g} ml: check the specimen surface.",
            }
        )
    if leak_fraction > LEAK_FRACTION:
        flags.append(
            {
                "code": "leak_suspected",
                "message": f"{100 * leak_fraction:.0f}% of the specimen's volume lies in thin sheets "
                "(under 4 mm) attached to it: the surface may have leaked into a container wall, bag or "
                "fluid. Check and correct the specimen surface before trusting the margins.",
            }
        )
    if film_mm > MAX_FILM_MM:
        flags.append(
            {
                "code": "thick_wrapping_layer",
                "message": f"A wrapping layer about {film_mm:.1f} mm thick was peeled off the specimen; bag "
                f"film is under {MAX_FILM_MM:g} mm, so this is probably a container wall that was not "
                "recognised and the specimen may include part of it: margins on that side may read too "
                "wide. Check and correct the specimen surface before trusting the margins.",
            }
        )
    if walls or film_mm > 0:
        parts = [f"{len(walls)} container wall(s)"] if walls else []
        if film_mm > 0:
            parts.append(f"film about {film_mm:.2f} mm thick (surface moved inward by that)")
        flags.append(
            {
                "code": "wrapping_removed",
                "message": "Wrapping separated from the specimen: " + ", ".join(parts) + ".",
            }
        )
    return flags
