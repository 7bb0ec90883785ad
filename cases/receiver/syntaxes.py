"""What the receiver accepts: the image SOP classes ingest reads, in every transfer syntax it decodes."""

from __future__ import annotations

from functools import cache

from pydicom import uid
from pydicom.pixels import get_decoder

CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
PET_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.128"
# SOP class -> the Modality the instance must carry (ingest reads single-frame CT and PET only).
IMAGE_SOP_CLASSES = {CT_IMAGE_STORAGE: "CT", PET_IMAGE_STORAGE: "PT"}

_UNCOMPRESSED = (
    uid.ImplicitVRLittleEndian,
    uid.ExplicitVRLittleEndian,
    uid.DeflatedExplicitVRLittleEndian,
    uid.ExplicitVRBigEndian,
)


@cache
def accepted_transfer_syntaxes() -> tuple[str, ...]:
    """Uncompressed syntaxes plus every compressed one pydicom can decode with the installed plugins
    (RLE, JPEG baseline/extended/lossless, JPEG-LS, JPEG 2000, HTJ2K): exactly what ingest reads."""
    accepted = [str(syntax) for syntax in _UNCOMPRESSED]
    for syntax in uid.AllTransferSyntaxes:
        if syntax in _UNCOMPRESSED or not syntax.is_compressed:
            continue
        try:
            available = get_decoder(syntax).is_available
        except NotImplementedError:
            continue
        if available:
            accepted.append(str(syntax))
    return tuple(accepted)
