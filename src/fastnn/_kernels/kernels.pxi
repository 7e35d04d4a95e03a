# fastnn kernel layer, included once per instruction set (_portable.pyx, _avx2.pyx).
#
# Layout of every kernel file below, after scikit-learn's Cython:
#   1. `cdef ... noexcept nogil` loops on raw pointers (or C functions from csrc/);
#   2. a `def` that checks every argument with the GIL held (validate.pxi), allocates
#      the missing outputs, then runs the loop in one `with nogil:` block.
# No validation happens inside nogil code.
#
# Files (each one's header says what it uses and what it provides):
#   capi.pxd         every C declaration (csrc/*.h, NumPy, builtins), cimported by the rest
#   config.pxi       runtime configuration and the table of codes (ACTIVATION_CODES, ...)
#   validate.pxi     argument checks (the one error vocabulary) and array helpers
#   activations.pxi  relu, tanh, ... and their backward passes
#   losses.pxi       softmax, log_softmax, the fused losses, column_sum
#   optim.pxi        sgd_step, adam_step
#   parallel.pxi     the thread-chunk drivers of the three files above (prange)
#   gemm.pxi         gemm, matmul, linear and GEMM_BLOCKING
#   sparse.pxi       sparse_linear and its backward (CSR rows times a dense weight)
#   embedding.pxi    embedding_bag and its row-sparse backward
#   dropout.pxi      dropout, dropout_backward (masks from a counter-based hash)
#   train.pxi        TrainPlan: whole training epochs in nogil code
#   word2vec.pxi     VocabCounter, word2vec_train, word2vec_update (skip-gram, CBOW)
cimport numpy as cnp

cnp.import_array()

include "config.pxi"
include "validate.pxi"
include "activations.pxi"
include "losses.pxi"
include "optim.pxi"
include "parallel.pxi"
include "gemm.pxi"
include "sparse.pxi"
include "embedding.pxi"
include "dropout.pxi"
include "train.pxi"
include "word2vec.pxi"
