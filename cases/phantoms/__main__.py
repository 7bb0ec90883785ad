"""Command line: ``python -m cases.phantoms OUT_DIR --n N --seed S [--size full|small]``.

Django-free twin of the ``make_phantoms`` management command.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from cases.phantoms.generator import PhantomSummary, generate_phantoms


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cases.phantoms", description=__doc__)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--n", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--size", choices=["full", "small"], default="full")
    args = parser.parse_args(argv)
    start = time.perf_counter()

    def progress(done: int, total: int, summary: PhantomSummary) -> None:
        print(
            f"[{done}/{total}] {summary.case_id}: margin {summary.closest_margin_mm:.2f} mm "
            f"(1 mm: {summary.status_1mm}), {summary.n_tumours} tumour(s), "
            f"{summary.dicom_bytes / 1e6:.1f} MB, {time.perf_counter() - start:.1f} s"
        )

    generate_phantoms(out_dir=args.out_dir, n=args.n, seed=args.seed, size=args.size, progress=progress)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
