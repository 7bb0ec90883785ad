"""The C-STORE / C-ECHO service class provider (pynetdicom), free of Django.

The handler only checks, stores (atomically) and records; everything slow happens in a worker later.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pynetdicom import AE, StoragePresentationContexts, evt
from pynetdicom.sop_class import Verification

from cases.receiver.store import StoredInstance, instance_path, study_dir_name, write_atomically
from cases.receiver.syntaxes import IMAGE_SOP_CLASSES, accepted_transfer_syntaxes

logger = logging.getLogger(__name__)

# DIMSE statuses (PS3.4 Annex B / PS3.7 Annex C) answered by the store handler.
SUCCESS = 0x0000
SOP_CLASS_NOT_SUPPORTED = 0x0122  # refused: e.g. a report, a PDF or a secondary capture
OUT_OF_RESOURCES = 0xA700  # could not store or record: the sender should retry later
DATASET_DOES_NOT_MATCH = 0xA900  # e.g. a CT object without Modality CT or without pixel data
CANNOT_UNDERSTAND = 0xC210  # the dataset could not be decoded

REQUIRED_KEYWORDS = ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "Modality", "PixelData")


@dataclass(frozen=True)
class ListenerConfig:
    ae_title: str
    host: str
    port: int
    allowed_calling_aes: tuple[str, ...]  # empty only together with allow_any
    allow_any: bool
    incoming_dir: Path


StudyKey = Callable[[str], str]  # original StudyInstanceUID -> de-identified one
Recorder = Callable[[StoredInstance, int], None]  # the stored instance and its association's id


def store_status(event, *, incoming_dir: Path, study_key: StudyKey, record: Recorder) -> int:
    """Check and store one instance; the status answers the sender (never raises)."""
    sop_class = str(event.request.AffectedSOPClassUID)
    expected_modality = IMAGE_SOP_CLASSES.get(sop_class)
    if expected_modality is None:
        return SOP_CLASS_NOT_SUPPORTED
    try:
        dataset = event.dataset
        missing = [keyword for keyword in REQUIRED_KEYWORDS if keyword not in dataset]
        modality = str(dataset.get("Modality", ""))
        study_uid = str(dataset.StudyInstanceUID) if "StudyInstanceUID" in dataset else ""
    except Exception as exc:  # malformed bytes from the network: a status, never a crash
        logger.warning("C-STORE from %s: undecodable dataset (%s)", event.assoc.requestor.ae_title, type(exc).__name__)
        return CANNOT_UNDERSTAND
    if missing or modality != expected_modality or str(dataset.get("SOPClassUID", sop_class)) != sop_class:
        logger.warning("C-STORE from %s: dataset does not match its SOP class (missing %s, modality %r)",
                       event.assoc.requestor.ae_title, missing, modality)
        return DATASET_DOES_NOT_MATCH
    try:
        key = study_key(study_uid)
        study_dir = incoming_dir / study_dir_name(key)
        path = instance_path(study_dir=study_dir, modality=modality, series_uid=str(dataset.SeriesInstanceUID),
                             sop_instance_uid=str(dataset.SOPInstanceUID))
        write_atomically(path=path, payload=event.encoded_dataset(include_meta=True))
        record(StoredInstance(study_key=key, study_dir=study_dir, modality=modality, path=path,
                              calling_ae=str(event.assoc.requestor.ae_title).strip()), id(event.assoc))
    except Exception:
        logger.exception("C-STORE: could not store or record an instance")
        return OUT_OF_RESOURCES
    return SUCCESS


def build_ae(config: ListenerConfig) -> AE:
    """An AE accepting C-ECHO and storage contexts: CT/PET are stored, other storage classes are
    negotiated so they get a clear 0x0122 status instead of a bare rejected context."""
    ae = AE(ae_title=config.ae_title)
    if not config.allow_any:
        if not config.allowed_calling_aes:
            raise ValueError("no calling AE title is allowed: set PETCTWEB_DICOM_ALLOWED_AES")
        # Association rejected (permanent), reason 3: "calling AE title not recognised".
        ae.require_calling_aet = list(config.allowed_calling_aes)
    syntaxes = list(accepted_transfer_syntaxes())
    ae.add_supported_context(Verification)
    for context in StoragePresentationContexts:
        ae.add_supported_context(context.abstract_syntax, syntaxes)
    ae.maximum_associations = 10
    ae.maximum_pdu_size = 0  # no limit: senders may use large PDUs (16 KiB ones cost many round trips)
    return ae


def start_server(config: ListenerConfig, *, study_key: StudyKey, record: Recorder,
                 association_closed: Callable[[int], None] = lambda _id: None, extra_handlers: Sequence = ()):
    """Start the SCP in background threads; returns pynetdicom's server (``.shutdown()`` stops it)."""
    ae = build_ae(config)
    handlers = [
        (evt.EVT_CONN_CLOSE, lambda event: association_closed(id(event.assoc))),
        (evt.EVT_C_ECHO, lambda event: SUCCESS),
        (evt.EVT_C_STORE,
         lambda event: store_status(event, incoming_dir=config.incoming_dir, study_key=study_key, record=record)),
        *extra_handlers,
    ]
    return ae.start_server((config.host, config.port), block=False, evt_handlers=handlers)
