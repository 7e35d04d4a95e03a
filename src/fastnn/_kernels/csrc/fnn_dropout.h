/* Inverted dropout with masks from a counter-based hash: no generator state, so a mask
 * depends only on (seed, step, element index), never on the thread count, the order in
 * which chunks run or the memory layout.
 *
 * SplitMix64's output function mix64 (a bijection of uint64 that spreads every input
 * bit over every output bit) keys one stream per (seed, step) and hashes the index i
 * (C order) of each element of the array in it; uint64 arithmetic wraps:
 *     key  = mix64(mix64(seed + G) + G * (step + 1))     G = 0x9E3779B97F4A7C15
 *     bits = mix64(key + G * (i + 1))
 *     kept = (bits >> 11) >= floor(p * 2^53)
 * so each element is kept with probability 1 - p (to 2^-53), the kept ones scaled by
 * 1 / (1 - p) rounded once to the dtype.  fastnn.reference.dropout_mask is the same
 * arithmetic in NumPy.
 */
#ifndef FNN_DROPOUT_H
#define FNN_DROPOUT_H

#include <stddef.h>
#include <stdint.h>

#define FNN_GOLDEN UINT64_C(0x9E3779B97F4A7C15)

static inline uint64_t fnn_mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

/* The stream of one (seed, step): a layer's seed and a minibatch's step. */
static inline uint64_t fnn_dropout_key(uint64_t seed, uint64_t step)
{
    return fnn_mix64(fnn_mix64(seed + FNN_GOLDEN) + FNN_GOLDEN * (step + 1));
}

/* floor(p * 2^53) for p in [0, 1): exact, a multiplication by a power of two. */
static inline uint64_t fnn_dropout_threshold(double p)
{
    return (uint64_t)(p * 9007199254740992.0);
}

/* y[i] = x[i] * scale where element i (of the whole array) is kept, else 0, for
 * i = first .. first + n - 1; y may be x. */
#define FNN_DROPOUT_DEF(NAME, T)                                                        \
    static inline void NAME(const T *x, T *y, ptrdiff_t first, ptrdiff_t n, uint64_t key, \
                            uint64_t threshold, T scale)                                  \
    {                                                                                     \
        for (ptrdiff_t i = first; i < first + n; i++) {                                   \
            uint64_t bits = fnn_mix64(key + FNN_GOLDEN * (uint64_t)(i + 1));              \
            y[i] = (bits >> 11) >= threshold ? x[i] * scale : (T)0;                       \
        }                                                                                 \
    }

FNN_DROPOUT_DEF(fnn_dropout_f32, float)
FNN_DROPOUT_DEF(fnn_dropout_f64, double)

#endif
