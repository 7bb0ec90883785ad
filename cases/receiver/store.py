"""Received instances on disk: one folder per study, written atomically before success is answered.

Layout: ``<root>/<study dir>/<CT|PT>/<series hash>/<instance hash>.dcm``. Names are hashes, so no
identifier from the header appears in a path.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

MODALITIES = ("CT", "PT")


def name_hash(value: str, length: int = 32) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:length]


def study_dir_name(study_key: str) -> str:
    """Folder of a study, from its de-identified StudyInstanceUID (stable across re-sends)."""
    return name_hash(study_key)


@dataclass(frozen=True)
class StoredInstance:
    study_key: str  # de-identified StudyInstanceUID: the same key a Case gets
    study_dir: Path
    modality: str
    path: Path
    calling_ae: str


def write_atomically(*, path: Path, payload: bytes) -> None:
    """Temp file in the target folder, fsync, then ``os.replace``: a reader never sees half a file and
    a crash after the acknowledgement cannot lose what was acknowledged."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(dir=path.parent, prefix=".incoming-", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as temp:
            temp.write(payload)
            temp.flush()
            os.fsync(temp.fileno())
        os.replace(temp_name, path)
    except BaseException:
        try:
            os.unlink(temp_name)
        except FileNotFoundError:
            pass
        raise


def instance_path(*, study_dir: Path, modality: str, series_uid: str, sop_instance_uid: str) -> Path:
    return study_dir / modality / name_hash(series_uid, 16) / f"{name_hash(sop_instance_uid)}.dcm"


def instance_counts(study_dir: Path) -> dict[str, int]:
    """Stored instances per modality (re-sent instances overwrite, so they are counted once)."""
    return {
        modality: sum(1 for _ in (study_dir / modality).glob("*/*.dcm")) if (study_dir / modality).is_dir() else 0
        for modality in MODALITIES
    }


def missing_modalities(study_dir: Path) -> list[str]:
    counts = instance_counts(study_dir)
    return [modality for modality in MODALITIES if counts[modality] == 0]
