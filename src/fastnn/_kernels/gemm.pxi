# gemm kernels (see kernels.pxi for the layout).
