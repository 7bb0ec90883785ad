"""Put the original identifiers back on copies of the stored (de-identified) CT headers, so that the SEG and
SR built from them reference the original study, series and instances and carry the original patient.

Django-free: the mapping comes in as plain dictionaries (``cases.reidentification.Originals``).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence

from pydicom.dataset import Dataset

UID_KEYWORDS = ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "FrameOfReferenceUID")


def reidentified_headers(
    *, headers: Sequence[Dataset], uids: Mapping[str, str], attributes: Mapping[str, str]
) -> list[Dataset]:
    """Copies of ``headers`` with every mapped UID and the given patient/study attributes restored.

    Refuses (ValueError) when an instance UID has no original: a half re-identified reference would
    file the result under a study that PACS does not know.
    """
    restored = []
    for header in headers:
        copied = copy.deepcopy(header)
        for keyword in UID_KEYWORDS:
            if keyword not in copied:
                continue
            pseudonymous = str(copied.data_element(keyword).value)
            if pseudonymous not in uids:
                raise ValueError(f"no original {keyword} is known for this case's CT; cannot re-identify")
            setattr(copied, keyword, uids[pseudonymous])
        for keyword, value in attributes.items():
            setattr(copied, keyword, value)
        restored.append(copied)
    return restored
