"""Every error code raised in the imaging core is a documented one."""

from __future__ import annotations

import re
from pathlib import Path

import cases.imaging as imaging
from cases.imaging import errors
from cases.imaging.errors import ERROR_CODES, IngestError, PairingError


def test_every_code_used_is_documented() -> None:
    source = "\n".join(p.read_text() for p in Path(imaging.__file__).parent.glob("*.py"))
    used = set(re.findall(r'code="([a-z_]+)"', source))
    defaults = {
        cls.default_code
        for cls in vars(errors).values()
        if isinstance(cls, type) and issubclass(cls, IngestError) and cls is not IngestError
    }
    assert used and used | defaults <= ERROR_CODES


def test_error_carries_message_code_and_file() -> None:
    error = PairingError("PET without CT: PT series 2.", file="PT/IM1")
    assert str(error) == error.message and error.code == "pet_without_ct"
    assert error.to_dict() == {
        "code": "pet_without_ct",
        "message": "PET without CT: PT series 2.",
        "file": "PT/IM1",
    }
