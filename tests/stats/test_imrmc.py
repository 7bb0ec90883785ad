"""iMRMC input parsing, validation and round trip."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from studies.stats.imrmc import MrmcData, MrmcInputError, parse_imrmc, write_imrmc

GOOD = """\
A small study
NR: 2
NM:2
BEGIN DATA:
-1,c1,truth,1
-1,c2,truth,0
-1,c3,truth,1
-1,c4,truth,0

r1,c1,aided,0.9
r1,c2,aided,0.2
r1,c3,aided,0.7
r1,c4,aided,0.4
r1,c1,unaided,4
r1,c2,unaided,1
r1,c3,unaided,3
r1,c4,unaided,3
r2,c1,aided,0.8
r2,c2,aided,0.1
r2,c3,aided,0.6
r2,c4,aided,0.5
r2,c1,unaided,5
r2,c2,unaided,2
r2,c3,unaided,2
r2,c4,unaided,1
"""


def test_parse_good_file() -> None:
    data = parse_imrmc(text=GOOD.replace("\n", "\r\n"))
    assert data.readers == ("r1", "r2")
    assert data.modalities == ("aided", "unaided")
    assert data.cases == ("c1", "c2", "c3", "c4")
    assert data.truth == {"c1": True, "c2": False, "c3": True, "c4": False}
    assert data.scores["r2"]["unaided"]["c3"] == 2.0
    assert data.description == ("A small study",)
    arrays = data.to_arrays()
    assert arrays.scores.shape == (2, 2, 4)
    assert arrays.scores[1, 0, 0] == 4.0  # modality unaided, reader r1, case c1


def test_round_trip() -> None:
    data = parse_imrmc(text=GOOD.replace("0.9", "0.1234567890123456789"))
    again = parse_imrmc(text=write_imrmc(data=data))
    assert again == data
    assert write_imrmc(data=again) == write_imrmc(data=data)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda s: s.replace("BEGIN DATA:", "BEGIN:"), "no 'BEGIN DATA:' line"),
        (lambda s: s.replace("r1,c2,aided,0.2", "r1,c2,aided,high"), r"line \d+: 'high' is not a number"),
        (lambda s: s.replace("r1,c2,aided,0.2", "r1,c2,aided,nan"), "not a finite number"),
        (lambda s: s.replace("r1,c2,aided,0.2", "r1,c9,aided,0.2"), "case 'c9', which has no truth row"),
        (lambda s: s.replace("r1,c2,aided,0.2", "r1,c1,aided,0.2"), "duplicate score"),
        (lambda s: s + "-1,c1,truth,0\n", "conflicting truth"),
        (lambda s: s.replace("-1,c4,truth,0", "-1,c4,truth,2"), "must be 0 or 1"),
        (lambda s: s.replace("r1,c2,aided,0.2", "r1,c2,0.2"), "expected readerID,caseID,modalityID,score"),
        (lambda s: s.replace("NR: 2", "NR: 3"), "header says NR:3 but the data have 2"),
        (lambda s: s.replace("NM:2", "NM:two"), "NM must be a whole number"),
        (lambda s: s.split("-1,c1")[0], "no truth rows"),
    ],
)
def test_invalid_input_is_reported_clearly(edit: Callable[[str], str], message: str) -> None:
    with pytest.raises(MrmcInputError, match=message):
        parse_imrmc(text=edit(GOOD))


def test_missing_scores_parse_but_are_refused_for_or() -> None:
    data = parse_imrmc(text=GOOD.replace("r2,c3,unaided,2\n", ""))
    assert data.missing() == [("r2", "unaided", "c3")]
    with pytest.raises(MrmcInputError, match="fully crossed design.*reader r2 / modality unaided / case c3"):
        data.to_arrays()


def test_data_class_validation_and_writer_checks() -> None:
    with pytest.raises(MrmcInputError, match="has no truth"):
        MrmcData(truth={"a": True}, scores={"r": {"m": {"b": 1.0}}})
    with pytest.raises(MrmcInputError, match="not a finite number"):
        MrmcData(truth={"a": True}, scores={"r": {"m": {"a": float("inf")}}})
    with pytest.raises(MrmcInputError, match="cannot be written"):
        write_imrmc(data=MrmcData(truth={"a,b": True}, scores={}))
    with pytest.raises(MrmcInputError, match="reserved"):
        write_imrmc(data=MrmcData(truth={"a": True}, scores={"-1": {"m": {"a": 1.0}}}))
    with pytest.raises(MrmcInputError, match="no reader scores"):
        MrmcData(truth={"a": True}, scores={}).to_arrays()
