# The C extension built from _merkle.c (see there): a job's Merkle tree, hashed.

import numpy as np
import numpy.typing as npt
import pyarrow as pa

def leaves(data: pa.Buffer, offsets: npt.NDArray[np.int64], /) -> bytes: ...
def root(leaves: bytes, /) -> bytes: ...
