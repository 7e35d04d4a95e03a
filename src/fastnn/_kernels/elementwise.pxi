# elementwise kernels (see kernels.pxi for the layout).
