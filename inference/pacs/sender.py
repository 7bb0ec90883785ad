"""C-STORE SCU (pynetdicom): one association per delivery, every document sent in it. Django-free."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pydicom.dataset import Dataset
from pynetdicom import AE

# Success, and the warnings of PS3.4 B.2.3 (coercion, elements discarded, does not match SOP class).
STORED = {0x0000, 0xB000, 0xB006, 0xB007}


class DeliveryError(Exception):
    """The destination could not be reached or refused a document; worth trying again later."""


@dataclass(frozen=True)
class Destination:
    ae_title: str
    host: str
    port: int


def c_store(*, datasets: Sequence[Dataset], destination: Destination, calling_ae_title: str, timeout_s: float) -> None:
    """Store every dataset at ``destination`` or raise :class:`DeliveryError` saying what went wrong."""
    where = f"{destination.ae_title}@{destination.host}:{destination.port}"
    ae = AE(ae_title=calling_ae_title)
    ae.connection_timeout = ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = timeout_s
    for context in {(str(ds.SOPClassUID), str(ds.file_meta.TransferSyntaxUID)) for ds in datasets}:
        ae.add_requested_context(*context)
    assoc = ae.associate(destination.host, destination.port, ae_title=destination.ae_title)
    if not assoc.is_established:
        if assoc.is_rejected:
            raise DeliveryError(f"{where} rejected the association (check the AE titles on both sides)")
        raise DeliveryError(f"could not connect to {where} (refused, unreachable or timed out)")
    try:
        for ds in datasets:
            status = assoc.send_c_store(ds)
            if not status:
                raise DeliveryError(f"{where} did not answer the C-STORE of {ds.Modality} (connection lost or timed out)")
            if int(status.Status) not in STORED:
                raise DeliveryError(f"{where} refused the {ds.Modality}: C-STORE status 0x{int(status.Status):04X}")
    finally:
        if assoc.is_established:
            assoc.release()
