"""Multi-reader multi-case (MRMC) ratings and the iMRMC input format.

:class:`MrmcData` holds the truth per case and ``scores[reader][modality][case]``. Reader,
modality and case IDs are strings; their order is the order of first appearance.

iMRMC input format (FDA iMRMC tool; also written by RJafroc):

    free-text header lines (optionally N0:<int>, N1:<int>, NR:<int>, NM:<int>)
    BEGIN DATA:
    -1,<caseID>,truth,<0|1>          one truth row per case (reader -1; 1 = diseased)
    <readerID>,<caseID>,<modalityID>,<score>

:func:`parse_imrmc` validates everything it can (malformed rows, non-numeric or non-finite
scores, scores for a case without truth, duplicate or conflicting rows, header counts that
disagree with the data) and raises :class:`MrmcInputError` with the line number. A design that
is not fully crossed parses fine (iMRMC allows it) but :meth:`MrmcData.to_arrays`, which the
Obuchowski-Rockette analysis uses, refuses it and lists what is missing.
:func:`write_imrmc` writes the same format; parse -> write -> parse is lossless.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

BEGIN_DATA = "BEGIN DATA:"
_HEADER_COUNT = re.compile(r"^\s*(N0|N1|NR|NM)\s*:\s*(\S+)\s*$", re.IGNORECASE)


class MrmcInputError(ValueError):
    """MRMC input that cannot be analysed, with a message meant for the person who supplied it."""


@dataclass(frozen=True)
class MrmcArrays:
    """Fully crossed MRMC data as arrays: ``scores[modality, reader, case]``."""

    readers: tuple[str, ...]
    modalities: tuple[str, ...]
    cases: tuple[str, ...]
    truth: np.ndarray
    scores: np.ndarray


@dataclass(frozen=True)
class MrmcData:
    """Truth per case (True = diseased) and ``scores[reader][modality][case]``."""

    truth: Mapping[str, bool]
    scores: Mapping[str, Mapping[str, Mapping[str, float]]]
    description: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        for reader, by_modality in self.scores.items():
            for modality, by_case in by_modality.items():
                for case, score in by_case.items():
                    if case not in self.truth:
                        raise MrmcInputError(
                            f"reader {reader!r}, modality {modality!r}: case {case!r} has no truth"
                        )
                    if not isinstance(score, numbers.Real) or not math.isfinite(score):
                        raise MrmcInputError(
                            f"reader {reader!r}, modality {modality!r}, case {case!r}: "
                            f"score {score!r} is not a finite number"
                        )

    @property
    def readers(self) -> tuple[str, ...]:
        return tuple(self.scores)

    @property
    def modalities(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for by_modality in self.scores.values():
            seen.update(dict.fromkeys(by_modality))
        return tuple(seen)

    @property
    def cases(self) -> tuple[str, ...]:
        return tuple(self.truth)

    def missing(self) -> list[tuple[str, str, str]]:
        """(reader, modality, case) triples without a score in the fully crossed design."""
        return [
            (r, m, c)
            for r in self.readers
            for m in self.modalities
            for c in self.cases
            if c not in self.scores[r].get(m, {})
        ]

    def to_arrays(self) -> MrmcArrays:
        """Arrays for a fully crossed design; MrmcInputError if any score is missing."""
        if not self.scores:
            raise MrmcInputError("no reader scores")
        missing = self.missing()
        if missing:
            shown = ", ".join(f"reader {r} / modality {m} / case {c}" for r, m, c in missing[:5])
            more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
            raise MrmcInputError(
                "the Obuchowski-Rockette analysis needs a fully crossed design (every reader scores "
                f"every case in every modality); {len(missing)} score(s) missing: {shown}{more}"
            )
        readers, modalities, cases = self.readers, self.modalities, self.cases
        scores = np.array(
            [[[self.scores[r][m][c] for c in cases] for r in readers] for m in modalities], dtype=float
        )
        truth = np.array([self.truth[c] for c in cases], dtype=bool)
        return MrmcArrays(readers=readers, modalities=modalities, cases=cases, truth=truth, scores=scores)


def _number(text: str, where: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise MrmcInputError(f"{where}: {text!r} is not a number") from None
    if not math.isfinite(value):
        raise MrmcInputError(f"{where}: {text!r} is not a finite number")
    return value


def parse_imrmc(*, text: str) -> MrmcData:
    """Parse iMRMC input text into :class:`MrmcData` (see the module docstring for the rules)."""
    lines = text.splitlines()
    try:
        begin = next(i for i, line in enumerate(lines) if line.strip().upper() == BEGIN_DATA)
    except StopIteration:
        raise MrmcInputError(f"no {BEGIN_DATA!r} line: not an iMRMC input file") from None

    description: list[str] = []
    declared: dict[str, int] = {}
    for i, line in enumerate(lines[:begin], start=1):
        match = _HEADER_COUNT.match(line)
        if match:
            key, value = match.group(1).upper(), match.group(2)
            if not value.isdigit():
                raise MrmcInputError(f"line {i}: {key} must be a whole number, got {value!r}")
            declared[key] = int(value)
        elif line.strip():
            description.append(line.strip())

    truth: dict[str, bool] = {}
    scores: dict[str, dict[str, dict[str, float]]] = {}
    pending: list[tuple[int, str, str, str]] = []  # score rows, checked once all truth is known
    for i, line in enumerate(lines[begin + 1 :], start=begin + 2):
        if not line.strip():
            continue
        fields = [f.strip() for f in line.split(",")]
        if len(fields) != 4 or not all(fields):
            raise MrmcInputError(f"line {i}: expected readerID,caseID,modalityID,score; got {line.strip()!r}")
        reader, case, modality, value = fields
        if reader == "-1":
            label = _number(value, f"line {i}")
            if label not in (0.0, 1.0):
                raise MrmcInputError(f"line {i}: truth for case {case!r} must be 0 or 1, got {value!r}")
            if case in truth and truth[case] != (label == 1.0):
                raise MrmcInputError(f"line {i}: conflicting truth for case {case!r}")
            truth[case] = label == 1.0
        else:
            pending.append((i, reader, case, modality))
            by_case = scores.setdefault(reader, {}).setdefault(modality, {})
            if case in by_case:
                raise MrmcInputError(
                    f"line {i}: duplicate score for reader {reader!r}, modality {modality!r}, case {case!r}"
                )
            by_case[case] = _number(value, f"line {i}")

    for i, reader, case, _ in pending:
        if case not in truth:
            raise MrmcInputError(f"line {i}: reader {reader!r} scored case {case!r}, which has no truth row")
    if not truth:
        raise MrmcInputError("no truth rows (-1,caseID,truth,0|1)")

    data = MrmcData(truth=truth, scores=scores, description=tuple(description))
    actual = {
        "N0": sum(1 for v in truth.values() if not v),
        "N1": sum(1 for v in truth.values() if v),
        "NR": len(data.readers),
        "NM": len(data.modalities),
    }
    for key, value in declared.items():
        if actual[key] != value:
            raise MrmcInputError(f"header says {key}:{value} but the data have {actual[key]}")
    return data


def _check_id(kind: str, value: str) -> str:
    if not value or value != value.strip() or "," in value or "\n" in value or "\r" in value:
        raise MrmcInputError(
            f"{kind} ID {value!r} cannot be written to iMRMC (empty, comma, spaces or newline)"
        )
    return value


def write_imrmc(*, data: MrmcData) -> str:
    """Serialise :class:`MrmcData` to iMRMC input text (scores written as shortest exact floats)."""
    out: list[str] = []
    for line in data.description:
        if line.strip().upper() == BEGIN_DATA or _HEADER_COUNT.match(line):
            raise MrmcInputError(f"description line {line!r} would be misread as a header field")
        out.append(line)
    truth_values = list(data.truth.values())
    out += [
        f"N0:{sum(1 for v in truth_values if not v)}",
        f"N1:{sum(1 for v in truth_values if v)}",
        f"NR:{len(data.readers)}",
        f"NM:{len(data.modalities)}",
        BEGIN_DATA,
    ]
    out += [f"-1,{_check_id('case', c)},truth,{int(bool(v))}" for c, v in data.truth.items()]
    for reader, by_modality in data.scores.items():
        if reader == "-1":
            raise MrmcInputError("reader ID -1 is reserved for truth rows")
        for modality, by_case in by_modality.items():
            for case, score in by_case.items():
                out.append(
                    f"{_check_id('reader', reader)},{case},{_check_id('modality', modality)},{float(score)!r}"
                )
    return "\n".join(out) + "\n"
