# fastnn kernel layer, included once per instruction set (_portable.pyx, _avx2.pyx).
#
# Layout of every kernel file below, after scikit-learn's Cython:
#   1. `cdef ... noexcept nogil` loops on raw pointers (or C functions from csrc/);
#   2. a `def` that checks every argument with the GIL held, allocates the missing
#      outputs, then runs the loop in one `with nogil:` block.
# No validation happens inside nogil code.
cimport numpy as cnp

cnp.import_array()

include "config.pxi"
include "validate.pxi"
include "elementwise.pxi"
include "gemm.pxi"
include "train.pxi"
