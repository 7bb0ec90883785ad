"""A throw-away Orthanc (Debian's ``Orthanc``) as the PACS: for the scanner-to-result benchmark and the tests."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def orthanc_binary() -> str | None:
    return shutil.which("Orthanc")


class Orthanc:
    """Orthanc on free local ports with a temporary configuration and storage; ``stop()`` ends it."""

    def __init__(self, *, root: Path, ae_title: str = "BENCHPACS", dicom_port: int | None = None) -> None:
        self.ae_title, self.dicom_port, self.http_port = ae_title, dicom_port or free_port(), free_port()
        storage = root / "storage"
        storage.mkdir(parents=True, exist_ok=True)
        config = {
            "Name": "petctweb-bench", "StorageDirectory": str(storage), "IndexDirectory": str(storage),
            "DicomAet": ae_title, "DicomPort": self.dicom_port, "HttpPort": self.http_port,
            "RemoteAccessAllowed": False, "AuthenticationEnabled": False, "DicomModalities": {},
            "DicomAlwaysAllowStore": True, "DicomCheckCalledAet": True, "Plugins": [], "HttpsVerifyPeers": False,
        }
        (root / "orthanc.json").write_text(json.dumps(config))
        self._log = (root / "orthanc.log").open("w")
        self.process = subprocess.Popen([orthanc_binary(), str(root / "orthanc.json")], stdout=self._log,
                                        stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while True:
            try:
                self.get("/system")
                return
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"Orthanc did not start; see {root / 'orthanc.log'}") from None
                time.sleep(0.2)

    def get(self, path: str):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}{path}", timeout=10) as response:
            return json.loads(response.read())

    def modalities(self, *, exclude: set[str] = frozenset()) -> list[str]:
        """Modality of every stored series but the ``exclude``d ids (SEG and SR are what the product sends)."""
        found = []
        for series_id in set(self.get("/series")) - set(exclude):
            found.append(self.get(f"/series/{series_id}")["MainDicomTags"].get("Modality", ""))
        return found

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
