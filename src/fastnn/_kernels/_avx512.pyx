# The kernel layer compiled for the "avx512" instruction set; see setup.py.
include "kernels.pxi"
