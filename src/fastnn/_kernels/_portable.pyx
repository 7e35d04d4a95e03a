# The kernel layer compiled for the "portable" instruction set; see setup.py.
include "kernels.pxi"
