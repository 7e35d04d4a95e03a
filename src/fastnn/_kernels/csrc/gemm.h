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

/* C = act(alpha * A @ B + bias) with A gathered through an index, read in place:
 *   idx_cols == 0:  A(i, p) = a[idx[i] * rsa + p * csa]   (rows idx of a matrix: a minibatch of X)
 *   idx_cols != 0:  A(i, p) = a[i * rsa + idx[p] * csa]   (its transpose: X[idx].T)
 * The index is read, never checked: every entry must address a valid row (column).
 * The rows are gathered straight into the packed A blocks, so C is bitwise what
 * fnn_sgemm gives for the gathered A (same blocking, kernels and thread split).  Returns
 * 0, or -1 when that product would not pack A (skinny or narrow shapes) or the packing
 * workspace could not be had: C is then unspecified and the caller gathers A itself.
 * C is not read (beta 0). */
int fnn_sgemm_gather(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, float alpha,
                     const float *a, ptrdiff_t rsa, ptrdiff_t csa,
                     const int64_t *idx, int idx_cols,
                     const float *b, ptrdiff_t rsb, ptrdiff_t csb,
                     float *c, ptrdiff_t rsc, const float *bias, int act, float slope);

int fnn_dgemm_gather(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, double alpha,
                     const double *a, ptrdiff_t rsa, ptrdiff_t csa,
                     const int64_t *idx, int idx_cols,
                     const double *b, ptrdiff_t rsb, ptrdiff_t csb,
                     double *c, ptrdiff_t rsc, const double *bias, int act, double slope);

/* A tile of C that one micro-kernel call computes: `rows` rows by min_cols..max_cols
 * columns. */
typedef struct {
    int rows, min_cols, max_cols;
} fnn_gemm_tile;

#define FNN_GEMM_MAX_NARROW 4

/* The blocking of one compiled path and element type: the numbers its GEMM driver runs
 * on (gemm.c), exported to Python as GEMM_BLOCKING.
 *   mr x nr   the general register tile;
 *   kc        the most depth of a packed block (k runs in equal blocks of at most kc);
 *   mc, nc    rows of a packed A block, columns of a packed B block;
 *   narrow    n_narrow tiles serving a whole C (a thread's share) of min_cols..max_cols
 *             columns; one wider than nr reads a B panel of nr columns and a partial
 *             one of max_cols - nr;
 *   pairs     the tile of a packed partial last column panel of min_cols..max_cols
 *             columns (rows == 0: this path has none);
 *   cols      the column tile serving a whole C (a thread's share) of min_cols..max_cols
 *             columns, rows of C as vectors, A and B packed for it (rows == 0: none);
 *   skinny_m  products of at most this many rows run without packing, skinny_nb
 *             columns at a time (gemm_skinny.h);
 *   gemv_n    products of at most this many columns (A with a unit stride; the most
 *             when A is given transposed) or rows (B with unit row stride) run as matrix
 *             times vectors (gemm_gemv.h: GEMV_N, GEMV_DOT_N; 0: none). */
typedef struct {
    int mr, nr, kc, mc, nc;
    int n_narrow;
    fnn_gemm_tile narrow[FNN_GEMM_MAX_NARROW];
    fnn_gemm_tile pairs;
    fnn_gemm_tile cols;
    int skinny_m, skinny_nb;
    int gemv_n;
} fnn_gemm_blocking;

const fnn_gemm_blocking *fnn_sgemm_blocking(void);
const fnn_gemm_blocking *fnn_dgemm_blocking(void);

#endif
