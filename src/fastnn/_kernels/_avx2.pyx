# The kernel layer compiled for the "avx2" instruction set; see setup.py.
include "kernels.pxi"
