"""Time the ingest against a plain pydicom read of the same files, in one run.

(a) ``dcmread`` of every file plus decoding its pixel data: the floor any DICOM reader pays;
(b) :func:`load_studies` on the same path: the whole pipeline (checks, SUV, de-identification,
resampling). Both report MB/s over the bytes of the DICOM files, so the ratio shows the
pipeline's overhead. Used by the ``bench_ingest`` management command.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import pydicom

from cases.imaging.files import collect_files
from cases.imaging.reading import read_header
from cases.imaging.study import load_studies
from cases.imaging.timing import StageClock


def _raw_read(files) -> float:
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for candidate in files:
            dataset = pydicom.dcmread(candidate.path)
            if "PixelData" in dataset:
                dataset.pixel_array  # noqa: B018 - decoding is what we time
    return time.perf_counter() - start


def benchmark_ingest(*, path: Path, working_spacing_mm: float = 0.5, deid_secret: str = "benchmark",
                     repeats: int = 3) -> dict:
    """Seconds and MB/s for a raw pydicom read and for load_studies on ``path``.

    Both run ``repeats`` times, interleaved, after one warm-up of each (a worker is a long-lived
    process: imports and table loads are paid once); the fastest run of each is reported, since
    other load on the machine only ever adds time.
    """
    path = Path(path)
    raw_times, ingest_times, stage_seconds = [], [], []
    with collect_files(path=path) as collected:
        dicom = [c for c in collected.files if read_header(candidate=c) is not None]
        total_bytes = sum(c.size for c in dicom)
        studies = None
        for attempt in range(repeats + 1):
            raw_seconds = _raw_read(dicom)
            clock = StageClock(task="bench_ingest")
            start = time.perf_counter()
            studies = load_studies(
                path=path, working_spacing_mm=working_spacing_mm, deid_secret=deid_secret, clock=clock
            )
            ingest_seconds = time.perf_counter() - start
            if attempt:  # the first round warms up
                raw_times.append(raw_seconds)
                ingest_times.append(ingest_seconds)
                stage_seconds.append(clock.seconds())
    raw_seconds, ingest_seconds = min(raw_times), min(ingest_times)
    megabytes = total_bytes / 1e6
    return {
        "path": str(path),
        "files": len(dicom),
        "megabytes": round(megabytes, 3),
        "repeats": repeats,
        "raw_read_seconds": round(raw_seconds, 3),
        "raw_read_mb_per_s": round(megabytes / raw_seconds, 1) if raw_seconds > 0 else None,
        "ingest_seconds": round(ingest_seconds, 3),
        "ingest_mb_per_s": round(megabytes / ingest_seconds, 1) if ingest_seconds > 0 else None,
        "studies": len(studies),
        "working_shapes": [list(s.ct_working.grid.shape) for s in studies],
        "working_spacing_mm": working_spacing_mm,
        # Each stage's fastest repeat (pixels are read in "pixels_and_resampling"); they need not add up to the total.
        "stages_seconds": {name: round(min(run[name] for run in stage_seconds), 4) for name in stage_seconds[0]},
    }
