/* The floating-point peak of one core, measured: independent FMA chains in registers
 * (no memory traffic), so `fastnn bench` can report GEMM throughput as a fraction of
 * what this CPU really does rather than of a datasheet figure. */
#include <time.h>

#include "fnn.h"

#if FNN_HAVE_AVX2
#include <immintrin.h>
#endif

#define FNN_CHAINS 12 /* > FMA latency (4) x FMA pipes (2): keeps both pipes busy */

static double fnn_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* One round of `iters` x FNN_CHAINS FMAs; returns the flops done. */
#if FNN_HAVE_AVX2
#define FNN_PEAK_ROUND(VT, SET1, FMA, ADD, LANES, SINK)                          \
    do {                                                                        \
        VT acc[FNN_CHAINS], x = SET1(0.999), y = SET1(1e-7);                    \
        for (int c = 0; c < FNN_CHAINS; c++) acc[c] = SET1((double)c);          \
        for (long i = 0; i < iters; i++)                                        \
            for (int c = 0; c < FNN_CHAINS; c++) acc[c] = FMA(acc[c], x, y);    \
        for (int c = 1; c < FNN_CHAINS; c++) acc[0] = ADD(acc[0], acc[c]);      \
        SINK = acc[0];                                                          \
        (void)SINK;                                                             \
        flops = 2.0 * LANES * FNN_CHAINS * (double)iters;                       \
    } while (0)
#endif

double fnn_peak_gflops(int is_double, double seconds)
{
    const long iters = 1L << 16;
    double best = 0.0, start = fnn_now();
    while (fnn_now() - start < seconds) {
        double flops, t0 = fnn_now();
#if FNN_HAVE_AVX2
        if (is_double) {
            volatile __m256d sink;
            FNN_PEAK_ROUND(__m256d, _mm256_set1_pd, _mm256_fmadd_pd, _mm256_add_pd, 4, sink);
        } else {
            volatile __m256 sink;
            FNN_PEAK_ROUND(__m256, _mm256_set1_ps, _mm256_fmadd_ps, _mm256_add_ps, 8, sink);
        }
#else
        /* the portable build's peak: what plain multiply-adds reach */
        volatile double sink;
        double acc[FNN_CHAINS];
        for (int c = 0; c < FNN_CHAINS; c++) acc[c] = c;
        for (long i = 0; i < iters; i++)
            for (int c = 0; c < FNN_CHAINS; c++) acc[c] = acc[c] * 0.999 + 1e-7;
        for (int c = 1; c < FNN_CHAINS; c++) acc[0] += acc[c];
        sink = acc[0];
        (void)sink;
        (void)is_double;
        flops = 2.0 * FNN_CHAINS * (double)iters;
#endif
        const double rate = flops / (fnn_now() - t0) / 1e9;
        best = rate > best ? rate : best;
    }
    return best;
}
