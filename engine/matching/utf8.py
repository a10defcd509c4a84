"""Text values as UTF-8 bytes and int64 offsets (Arrow's layout for large strings), for
the native Jaro-Winkler to read by position (`similarity.jaro_winkler_at`).

A pair scored from Python strings first needs both strings made (about 50 bytes and a
UTF-8 decode each, under the GIL) and gathered into lists by reference; read from these
buffers, a pair costs the score alone, with the GIL released throughout.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl


@dataclass(frozen=True)
class Utf8Column:
    """String i is data[offsets[i]:offsets[i + 1]], decoded as UTF-8."""

    offsets: np.ndarray  # int64, one more than the strings
    data: np.ndarray  # uint8

    @classmethod
    def of(cls, values: pl.Series) -> Utf8Column | None:
        """The column of a polars String series; None if it holds a null (a null is no
        string to score: callers take the path that handles them)."""
        if values.dtype != pl.String or values.null_count():
            return None
        # one bytes object of all the text (no pyarrow: importing it costs the process
        # about 40 MB), and where each string ends
        data = values.str.join("").cast(pl.Binary).item() if values.len() else b""
        offsets = np.zeros(values.len() + 1, dtype=np.int64)
        np.cumsum(values.str.len_bytes().to_numpy(), out=offsets[1:])
        return cls(offsets, np.frombuffer(data, dtype=np.uint8))

    def __len__(self) -> int:
        return int(self.offsets.size) - 1

    def strings(self, positions: np.ndarray) -> list[str]:
        """The strings at `positions` as Python strings (for the few pairs the native
        scorer leaves to rapidfuzz)."""
        data, offsets = self.data, self.offsets
        return [
            data[offsets[at] : offsets[at + 1]].tobytes().decode("utf-8")
            for at in positions.tolist()
        ]
