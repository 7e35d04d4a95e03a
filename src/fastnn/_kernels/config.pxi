# Runtime configuration exported by each kernel module, and the table of codes.
#
# Uses: capi.pxd (fnn.h: runtime functions, FNN_ACT_*, FNN_LOSS_*).
# Provides: cpu_has_avx2_fma, cpu_has_avx512, cpu_id, set_num_threads, get_num_threads,
#           max_threads, release_threads, peak_gflops, ACTIVATION_CODES, LOSS_CODES, ISA,
#           BUILD_FLAGS, OPENMP.
from fastnn._kernels.capi cimport (FNN_ACT_IDENTITY, FNN_ACT_LEAKY_RELU, FNN_ACT_RELU,
                                   FNN_ACT_SIGMOID, FNN_ACT_TANH, FNN_LOSS_BCE, FNN_LOSS_POISSON,
                                   FNN_LOSS_MSE, FNN_LOSS_SOFTMAX_XENT, fnn_build_flags,
                                   fnn_cpu_has_avx2_fma, fnn_cpu_has_avx512,
                                   fnn_cpu_id, fnn_get_num_threads, fnn_isa_name,
                                   fnn_max_threads, fnn_openmp_enabled, fnn_peak_gflops,
                                   fnn_release_threads, fnn_set_num_threads)


def cpu_has_avx2_fma() -> bool:
    """True when the running CPU supports AVX2 and FMA and the OS saves the YMM state."""
    return bool(fnn_cpu_has_avx2_fma())


def cpu_has_avx512() -> bool:
    """True when the running CPU supports AVX-512 F, BW, DQ and VL (and AVX2/FMA) and the
    OS saves the opmask and ZMM state (CPUID and XGETBV)."""
    return bool(fnn_cpu_has_avx512())


def cpu_id() -> tuple:
    """``(vendor, family, model)`` of the running CPU from CPUID (``("", 0, 0)`` off x86)."""
    cdef char vendor[13]
    cdef int family = 0, model = 0
    fnn_cpu_id(vendor, &family, &model)
    return vendor.decode("ascii", "replace"), family, model


def set_num_threads(n) -> None:
    """Set the thread count used by this module's parallel loops: an integer, clamped to
    1..max_threads()."""
    if isinstance(n, bool) or not hasattr(n, "__index__"):
        raise TypeError(f"n must be an integer; received {n!r}")
    fnn_set_num_threads(max(-1, min(n.__index__(), fnn_max_threads())))


def get_num_threads() -> int:
    return fnn_get_num_threads()


# ------------------------------------------------ thread bound, pool around fork
def max_threads() -> int:
    """The largest count set_num_threads keeps (4 per online CPU)."""
    return fnn_max_threads()


def release_threads() -> bool:
    """End the calling thread's OpenMP pool (before fork); False if the runtime cannot."""
    return bool(fnn_release_threads())


def peak_gflops(bint double=False, seconds=0.1) -> float:
    """Best GFLOP/s of one core on register-only multiply-adds, over ``seconds`` (at most
    an hour), in the module's vectors (512-bit FMA in avx512, 256-bit FMA in avx2,
    16-byte in portable)."""
    cdef double r, s = check_real(seconds, "seconds", 0.0, 3600.0)
    with nogil:
        r = fnn_peak_gflops(double, s)
    return r


#: activation name (as in fastnn.ops and ``linear(activation=...)``) -> FNN_ACT_* code
ACTIVATION_CODES = {"identity": FNN_ACT_IDENTITY, "relu": FNN_ACT_RELU,
                    "leaky_relu": FNN_ACT_LEAKY_RELU, "tanh": FNN_ACT_TANH,
                    "sigmoid": FNN_ACT_SIGMOID}
#: loss kernel name in fastnn.ops -> FNN_LOSS_* code
LOSS_CODES = {"softmax_cross_entropy": FNN_LOSS_SOFTMAX_XENT, "mse": FNN_LOSS_MSE,
              "bce_with_logits": FNN_LOSS_BCE, "poisson_nll": FNN_LOSS_POISSON}

ISA = fnn_isa_name().decode()
BUILD_FLAGS = fnn_build_flags().decode()
OPENMP = bool(fnn_openmp_enabled())
