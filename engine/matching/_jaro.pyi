# The C extension built from _jaro.c (see there): Jaro-Winkler of string pairs.

import numpy as np
import numpy.typing as npt

def pairs(left: list[str], right: list[str], out: npt.NDArray[np.float64], /) -> int: ...
def matrix(left: list[str], right: list[str], out: npt.NDArray[np.float64], /) -> int: ...
