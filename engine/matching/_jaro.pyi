# The C extension built from _jaro.c (see there): Jaro-Winkler of string pairs.

import numpy as np
import numpy.typing as npt

def pairs(left: list[str], right: list[str], out: npt.NDArray[np.float64], /) -> int: ...
def matrix(left: list[str], right: list[str], out: npt.NDArray[np.float64], /) -> int: ...
def pairs_at(
    left_offsets: npt.NDArray[np.int64],
    left_data: npt.NDArray[np.uint8],
    left_positions: npt.NDArray[np.int64],
    right_offsets: npt.NDArray[np.int64],
    right_data: npt.NDArray[np.uint8],
    right_positions: npt.NDArray[np.int64],
    out: npt.NDArray[np.float64],
    /,
) -> int: ...
