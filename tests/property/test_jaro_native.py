"""The native Jaro-Winkler (`engine.matching._jaro`) gives rapidfuzz's scores bit for bit,
and `jaro_winkler` conditions hold pairs to `min` exactly, on every scoring path."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from budget import examples
from hypothesis import given, settings
from hypothesis import strategies as st
from rapidfuzz import process
from rapidfuzz.distance import JaroWinkler

from engine.matching import _jaro, similarity
from engine.matching.similarity import jaro_winkler_pairs, pair_scores, raw_matrix
from engine.matching.utf8 import Utf8Column

# few letters make many equal characters (matches, transpositions, prefixes); the others
# are one byte past ASCII, two bytes and four bytes wide in a Python str
ALPHABETS = ["ab", "abcdefgh", "abcdefghijklmnopqrstuvwxyz ", "aé€𝄞b", "xyzā"]


def texts(longest: int) -> st.SearchStrategy[str]:
    return st.sampled_from(ALPHABETS).flatmap(
        lambda alphabet: st.text(alphabet=alphabet, max_size=longest)
    )


def rapidfuzz_scores(left: list[str], right: list[str]) -> np.ndarray:
    scores: np.ndarray = process.cpdist(
        left, right, scorer=JaroWinkler.normalized_similarity, dtype=np.float64, workers=1
    )
    return scores


def bits(scores: np.ndarray) -> list[int]:
    values: list[int] = scores.view(np.int64).tolist()
    return values


def test_the_extension_is_built() -> None:
    """An install with a C compiler (every machine the suite runs on) builds `_jaro`: the
    tests below would otherwise compare rapidfuzz with itself (this module's import of
    `_jaro` fails first where it is not built)."""
    assert vars(similarity)["_jaro"] is _jaro


@settings(max_examples=examples(300), deadline=None)
@given(st.lists(st.tuples(texts(140), texts(600)), max_size=40))
def test_native_scores_are_rapidfuzz_scores_bit_for_bit(pairs: list[tuple[str, str]]) -> None:
    """Left strings past 128 code points and right ones past 512 are left to rapidfuzz
    (-1.0 in the extension's answer); every other pair gets rapidfuzz's exact double."""
    left, right = [a for a, _ in pairs], [b for _, b in pairs]
    out = np.empty(len(pairs), dtype=np.float64)
    skipped = _jaro.pairs(left, right, out)
    taken = np.array([len(a) <= 128 and len(b) <= 512 for a, b in pairs], dtype=bool)
    assert skipped == int((~taken).sum())
    assert bits(out[~taken]) == bits(np.full(int((~taken).sum()), -1.0))
    assert bits(out[taken]) == bits(rapidfuzz_scores(left, right)[taken])
    assert bits(jaro_winkler_pairs(left, right)) == bits(rapidfuzz_scores(left, right))


def test_many_pairs_scored_on_threads_keep_their_order() -> None:
    """Past PARALLEL_PAIRS the pairs are cut into spans scored on several threads: each
    score still lands at its pair's position, the pairs the extension leaves included."""
    rng = np.random.default_rng(7)
    words = ["payment", "invoice", "acme", "gmbh", "transfer", "é", "𝄞", "ref"]
    count = similarity.PARALLEL_PAIRS * 3 + 17

    def sentence() -> str:
        return " ".join(rng.choice(words, size=int(rng.integers(0, 40))))

    left, right = [sentence() for _ in range(count)], [sentence() for _ in range(count)]
    assert any(len(text) > 128 for text in left)  # some go to rapidfuzz
    assert bits(jaro_winkler_pairs(left, right)) == bits(rapidfuzz_scores(left, right))


def test_without_the_extension_rapidfuzz_gives_the_same_scores(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    left = ["acme gmbh payment", "x" * 200, "", "blue sky"]
    right = ["acme payment gmbh", "x" * 199, "", "blu sky"]
    native = jaro_winkler_pairs(left, right)
    monkeypatch.setattr(similarity, "_jaro", None)
    assert bits(jaro_winkler_pairs(left, right)) == bits(native)


# rapidfuzz's own cutoff answers 0 for this pair at 0.8, whose score is 0.8 exactly
AT_MIN = ("fdcbefcg", "fehfcacg")


def test_a_pair_scoring_min_exactly_meets_the_condition() -> None:
    assert rapidfuzz_scores([AT_MIN[0]], [AT_MIN[1]]).tolist() == [0.8]
    assert pair_scores([AT_MIN[0]], [AT_MIN[1]], "jaro_winkler", 80.0).tolist() == [80.0]
    assert raw_matrix([AT_MIN[0]], [AT_MIN[1]], "jaro_winkler", 80.0).tolist() == [[0.8]]


@settings(max_examples=examples(200), deadline=None)
@given(
    st.lists(texts(90), min_size=1, max_size=8),
    st.lists(texts(90), min_size=1, max_size=8),
    st.sampled_from([0.0, 30.0, 65.0, 70.0, 72.0, 80.0, 100.0]),
)
def test_pairs_and_matrices_hold_the_same_pairs_to_min(
    left: list[str], right: list[str], minimum: float
) -> None:
    """A pair's score is the same whether its key goes pair by pair or as a matrix
    (`cdist`, SIMD for short strings), and below `min` both answer 0."""
    matrix = raw_matrix(left, right, "jaro_winkler", minimum)
    rows, cols = np.divmod(np.arange(len(left) * len(right)), len(right))
    pairs = pair_scores([left[r] for r in rows], [right[c] for c in cols], "jaro_winkler", minimum)
    assert bits(matrix.ravel() * 100.0) == bits(pairs)
    exact = rapidfuzz_scores([left[r] for r in rows], [right[c] for c in cols])
    assert bits(pairs) == bits(np.where(exact >= minimum / 100.0, exact, 0.0) * 100.0)


@pytest.mark.parametrize(
    ("left", "right", "out", "error"),
    [
        (["a", 3], ["a", "b"], np.empty(2), TypeError),
        (["a"], ["a", "b"], np.empty(2), ValueError),
        (["a", "b"], ["a", "b"], np.empty(3), ValueError),
        (["a"], ["b"], np.empty(2, dtype=np.float32), TypeError),  # 8 bytes, not float64
        (["a"], ["b"], np.empty(1, dtype=np.int64), TypeError),
        (["a"], ["b"], bytearray(8), TypeError),
    ],
)
def test_bad_arguments_raise_instead_of_writing(
    left: list[object], right: list[str], out: np.ndarray, error: type[Exception]
) -> None:
    before = bytes(out)
    with pytest.raises(error):
        _jaro.pairs(left, right, out)  # type: ignore[arg-type]
    assert bytes(out) == before


@settings(max_examples=examples(150), deadline=None)
@given(st.lists(texts(140), max_size=9), st.lists(texts(600), max_size=9))
def test_native_matrix_is_rapidfuzz_cdist_bit_for_bit(left: list[str], right: list[str]) -> None:
    """Each cell is rapidfuzz's exact double; the cells the extension does not take (a
    left string past 128 code points: its whole row; a right one past 512) are -1.0 and
    counted, and `raw_matrix` fills them from rapidfuzz."""
    out = np.empty(len(left) * len(right), dtype=np.float64)
    skipped = _jaro.matrix(left, right, out)
    expected = process.cdist(
        left, right, scorer=JaroWinkler.normalized_similarity, dtype=np.float64, workers=1
    ).reshape(-1)
    taken = np.array([len(a) <= 128 and len(b) <= 512 for a in left for b in right], dtype=bool)
    assert skipped == int((~taken).sum())
    assert bits(out[taken]) == bits(expected[taken])
    assert (out[~taken] == -1.0).all()
    for workers in (1, -1):
        matrix = raw_matrix(left, right, "jaro_winkler", 0.0, workers)
        assert bits(matrix.reshape(-1)) == bits(expected)


def test_long_text_matrices_take_the_extension(monkeypatch: pytest.MonkeyPatch) -> None:
    """Past NATIVE_MATRIX_CHARS characters a matrix is the extension's; below, rapidfuzz's
    SIMD `cdist` (faster there): the same cells either way, held to `min`."""
    called: list[int] = []

    def counted(left: list[str], right: list[str], out: np.ndarray) -> int:
        called.append(len(left))
        return _jaro.matrix(left, right, out)

    monkeypatch.setattr(similarity, "_jaro", type("Native", (), {"matrix": staticmethod(counted)}))
    long_left = ["payment acme gmbh invoice " * 4, "x" * 70, "short"]
    right = ["payment acme gmbh invoice " * 3, "short", "x" * 65]
    matrix = raw_matrix(long_left, right, "jaro_winkler", 70.0)
    assert called == [3]
    expected = process.cdist(
        long_left, right, scorer=JaroWinkler.normalized_similarity, dtype=np.float64
    )
    assert bits(matrix.reshape(-1)) == bits(np.where(expected >= 0.7, expected, 0.0).reshape(-1))
    raw_matrix(["short", "tiny"], right, "jaro_winkler", 70.0)
    assert called == [3]


def utf8_of(strings: list[str]) -> Utf8Column:
    column = Utf8Column.of(pl.Series(strings, dtype=pl.String))
    assert column is not None
    return column


@settings(max_examples=examples(300), deadline=None)
@given(
    st.lists(texts(140), min_size=1, max_size=12),
    st.lists(texts(600), min_size=1, max_size=12),
    st.data(),
)
def test_scores_read_from_utf8_by_position_are_rapidfuzz_scores(
    left: list[str], right: list[str], data: st.DataObject
) -> None:
    """`pairs_at` reads the strings from their UTF-8 (one-, two-, three- and four-byte
    characters) at any positions, repeated and in any order, and gives the very doubles
    `pairs` gives for the same strings as str; what it does not take is left at -1.0
    and counted, and `jaro_winkler_at` fills it from rapidfuzz."""
    count = data.draw(st.integers(0, 30))
    lefts = np.array(
        data.draw(st.lists(st.integers(0, len(left) - 1), min_size=count, max_size=count)),
        dtype=np.int64,
    )
    rights = np.array(
        data.draw(st.lists(st.integers(0, len(right) - 1), min_size=count, max_size=count)),
        dtype=np.int64,
    )
    columns = utf8_of(left), utf8_of(right)
    out = np.empty(count, dtype=np.float64)
    skipped = _jaro.pairs_at(
        columns[0].offsets, columns[0].data, lefts, columns[1].offsets, columns[1].data, rights, out
    )
    strings = [left[i] for i in lefts.tolist()], [right[i] for i in rights.tolist()]
    expected = np.empty(count, dtype=np.float64)
    assert _jaro.pairs(*strings, expected) == skipped
    assert bits(out) == bits(expected)
    scores = similarity.jaro_winkler_at(columns[0], lefts, columns[1], rights)
    assert bits(scores) == bits(rapidfuzz_scores(*strings))


def test_utf8_columns_hold_every_string_and_refuse_nulls() -> None:
    values = pl.Series(["acme", "", "é€𝄞", "x" * 300], dtype=pl.String)
    column = utf8_of(values.to_list())
    assert len(column) == 4
    assert column.strings(np.array([3, 2, 1, 0, 2])) == ["x" * 300, "é€𝄞", "", "acme", "é€𝄞"]
    assert column.offsets.tolist() == [0, 4, 4, 4 + len("é€𝄞".encode()), 13 + 300]
    assert Utf8Column.of(pl.Series(["a", None], dtype=pl.String)) is None
    assert Utf8Column.of(pl.Series([1, 2])) is None
    assert len(utf8_of([])) == 0


def _column_arguments(
    offsets: list[int], data: bytes, positions: list[int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return (
        np.array(offsets, dtype=np.int64),
        np.frombuffer(data, dtype=np.uint8),
        np.array(positions, dtype=np.int64),
    )


@pytest.mark.parametrize(
    ("left", "out", "error"),
    [
        (([0, 2], b"ab", [1]), np.empty(1), ValueError),  # a position past the strings
        (([0, 2], b"ab", [-1]), np.empty(1), ValueError),
        (([0, 3], b"ab", [0]), np.empty(1), ValueError),  # an offset past the data
        (([2, 1], b"ab", [0]), np.empty(1), ValueError),  # offsets out of order
        (([], b"", []), np.empty(0), ValueError),  # no offset at all
        (([0, 2], b"ab", [0, 0]), np.empty(1), ValueError),  # positions differ in length
        (([0, 2], b"ab", [0]), np.empty(1, dtype=np.int64), TypeError),
        (([0, 2], b"ab", [0]), np.empty(2), ValueError),
    ],
)
def test_bad_buffers_raise_instead_of_reading_past_them(
    left: tuple[list[int], bytes, list[int]], out: np.ndarray, error: type[Exception]
) -> None:
    right = _column_arguments([0, 2], b"ab", [0])
    before = bytes(out)
    with pytest.raises(error):
        _jaro.pairs_at(*_column_arguments(*left), *right, out)
    assert bytes(out) == before


def test_positions_must_be_int64() -> None:
    offsets, data, _ = _column_arguments([0, 2], b"ab", [0])
    with pytest.raises(TypeError, match="positions"):
        _jaro.pairs_at(
            offsets, data, np.zeros(1, np.int32), offsets, data, np.zeros(1, np.int64), np.empty(1)
        )
