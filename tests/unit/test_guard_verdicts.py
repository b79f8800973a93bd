"""The overall verdict's precedence: FAIL > ERROR > NO_DATA > STALE > INCONCLUSIVE > PASS."""

import itertools

import pytest

from console.guard.verdicts import GateState, worst

S = GateState
ABBREV = {"P": S.PASS, "I": S.INCONCLUSIVE, "S": S.STALE, "N": S.NO_DATA, "E": S.ERROR, "F": S.FAIL}

# worst(row, column), written out by hand for every pair.
#        P  I  S  N  E  F
TABLE = """
    P:   P  I  S  N  E  F
    I:   I  I  S  N  E  F
    S:   S  S  S  N  E  F
    N:   N  N  N  N  E  F
    E:   E  E  E  E  E  F
    F:   F  F  F  F  F  F
"""
COLUMNS = ["P", "I", "S", "N", "E", "F"]


def _pairs() -> list[tuple[GateState, GateState, GateState]]:
    out = []
    for line in TABLE.strip().splitlines():
        row, cells = line.split(":")
        for column, cell in zip(COLUMNS, cells.split(), strict=True):
            out.append((ABBREV[row.strip()], ABBREV[column], ABBREV[cell]))
    return out


def test_the_truth_table_covers_every_pair() -> None:
    covered = {(a, b) for a, b, _ in _pairs()}
    assert covered == set(itertools.product(GateState, GateState))


@pytest.mark.parametrize(("a", "b", "expected"), _pairs())
def test_worst_of_a_pair(a: GateState, b: GateState, expected: GateState) -> None:
    assert worst([a, b]) is expected
    assert worst(iter([b, a])) is expected


def test_worst_of_nothing_is_pass_and_of_many_is_the_highest() -> None:
    assert worst([]) is S.PASS
    assert worst([S.PASS, S.INCONCLUSIVE, S.STALE, S.PASS]) is S.STALE
    assert worst([S.STALE, S.NO_DATA, S.INCONCLUSIVE]) is S.NO_DATA


def test_symbols_read_without_colour() -> None:
    symbols = [state.symbol for state in GateState]
    assert len(set(symbols)) == len(symbols)
    assert S.PASS.symbol == "✔" and S.FAIL.symbol == "✖" and S.NO_DATA.symbol == "∅"
