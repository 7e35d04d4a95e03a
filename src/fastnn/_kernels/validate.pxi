# Argument checks shared by the kernels: run with the GIL held, before any loop.
