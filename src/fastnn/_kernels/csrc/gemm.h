/* fastnn GEMM: C = act(alpha * A @ B + beta * C + bias).
 *
 * Row-major logical shapes A (m,k), B (k,n), C (m,n) with arbitrary element strides
 * (rs = row stride, cs = column stride, both in elements and possibly negative or
 * zero for A and B; a transpose is just swapped strides).
 * beta == 0: C is not read (may hold NaN).  bias: NULL or n values added to every row.
 * act: FNN_ACT_*; slope is the negative slope of FNN_ACT_LEAKY_RELU.
 * k == 0 gives C = act(beta * C + bias).
 * Uses fnn_get_num_threads() threads; the result is bitwise identical for every
 * thread count.  Thread-safe (packing buffers are thread-local).  C must not overlap
 * A, B or bias.
 */
#ifndef FNN_GEMM_H
#define FNN_GEMM_H

#include "fnn.h"

void fnn_sgemm(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, float alpha,
               const float *a, ptrdiff_t rsa, ptrdiff_t csa,
               const float *b, ptrdiff_t rsb, ptrdiff_t csb,
               float beta, float *c, ptrdiff_t rsc, ptrdiff_t csc,
               const float *bias, int act, float slope);

void fnn_dgemm(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, double alpha,
               const double *a, ptrdiff_t rsa, ptrdiff_t csa,
               const double *b, ptrdiff_t rsb, ptrdiff_t csb,
               double beta, double *c, ptrdiff_t rsc, ptrdiff_t csc,
               const double *bias, int act, double slope);

#endif
