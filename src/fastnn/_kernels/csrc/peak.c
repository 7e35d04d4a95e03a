/* The floating-point peak of one core, measured: independent FMA chains in registers
 * (no memory traffic), so `fastnn bench` can report GEMM throughput as a fraction of
 * what this CPU really does rather than of a datasheet figure. */
#include "fnn.h"

#define FNN_CHAINS 12 /* > FMA latency (4) x FMA pipes (2): keeps both pipes busy */

/* The vectors of the path, in bytes: 512-bit with AVX-512, 256-bit with AVX2, 16-byte
 * (SSE2, NEON) in the portable build, whose `acc * x + y` is a fused multiply-add where
 * the target has one and a multiply and an add otherwise. */
#if FNN_HAVE_AVX512
#define FNN_PEAK_BYTES 64
#elif FNN_HAVE_AVX2
#define FNN_PEAK_BYTES 32
#else
#define FNN_PEAK_BYTES 16
#endif

/* One round of `iters` x FNN_CHAINS vector multiply-adds; returns the flops done. */
#define FNN_DEFINE_PEAK_ROUND(T, SUF)                                                  \
    static double fnn_peak_round_##SUF(int64_t iters)                                     \
    {                                                                                  \
        typedef T vec __attribute__((vector_size(FNN_PEAK_BYTES)));                    \
        vec acc[FNN_CHAINS], x = (vec){0} + (T)0.999, y = (vec){0} + (T)1e-7;           \
        for (int c = 0; c < FNN_CHAINS; c++) acc[c] = (vec){0} + (T)c;                 \
        for (int64_t i = 0; i < iters; i++)                                               \
            for (int c = 0; c < FNN_CHAINS; c++) acc[c] = acc[c] * x + y;              \
        for (int c = 1; c < FNN_CHAINS; c++) acc[0] += acc[c];                         \
        volatile vec sink = acc[0];                                                    \
        (void)sink;                                                                    \
        return 2.0 * (double)(FNN_PEAK_BYTES / sizeof(T)) * FNN_CHAINS * (double)iters; \
    }

FNN_DEFINE_PEAK_ROUND(float, f32)
FNN_DEFINE_PEAK_ROUND(double, f64)

double fnn_peak_gflops(int is_double, double seconds)
{
    const int64_t iters = (int64_t)1 << 16;
    double best = 0.0, start = fnn_seconds();
    while (fnn_seconds() - start < seconds) {
        const double t0 = fnn_seconds();
        const double flops = is_double ? fnn_peak_round_f64(iters) : fnn_peak_round_f32(iters);
        const double rate = flops / (fnn_seconds() - t0) / 1e9;
        best = rate > best ? rate : best;
    }
    return best;
}
