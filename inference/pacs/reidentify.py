"""Put the original identifiers back on copies of the stored (de-identified) CT headers, so that the SEG and
SR built from them reference the original study, series and instances and carry the original patient.

Django-free: the mapping comes in as plain dictionaries (``cases.reidentification.Originals``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset

UID_KEYWORDS = ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "FrameOfReferenceUID")


def reidentified_headers(
    *, headers: Sequence[Dataset], uids: Mapping[str, str], attributes: Mapping[str, str]
) -> list[Dataset]:
    """Copies of ``headers`` with every mapped UID and the given patient/study attributes restored.

    Shallow copies whose restored elements are new ones, so ``headers`` stay as they were (they may be the
    worker's remembered de-identified headers); a deep copy of a full CT series cost more than building the
    SEG. Refuses (ValueError) when an instance UID has no original: a half re-identified reference would
    file the result under a study that PACS does not know.
    """
    restored = []
    for header in headers:
        copied = Dataset()
        copied.update(header)  # a new element dict sharing the elements
        for keyword in UID_KEYWORDS:
            if keyword not in copied:
                continue
            pseudonymous = str(copied.data_element(keyword).value)
            if pseudonymous not in uids:
                raise ValueError(f"no original {keyword} is known for this case's CT; cannot re-identify")
            _replace(copied, keyword, uids[pseudonymous])
        for keyword, value in attributes.items():
            _replace(copied, keyword, value)
        restored.append(copied)
    return restored


def _replace(dataset: Dataset, keyword: str, value: str) -> None:
    # A new element, never ``setattr``: that would change the existing element in place, which the shallow
    # copy shares with the caller's (de-identified) header.
    tag = tag_for_keyword(keyword)
    existing = dataset.get_item(tag)
    vr = existing.VR if existing is not None and existing.VR and existing.VR != "UN" else dictionary_VR(tag)
    dataset[tag] = DataElement(tag, vr, value)
