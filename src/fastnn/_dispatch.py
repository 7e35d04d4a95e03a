"""Pick the compiled kernel module for this CPU, and hold the thread count.

Compiled paths (setup.py builds each one the platform has): ``portable`` (any CPU:
GCC/Clang vector extensions, SSE2 on x86-64, NEON on aarch64), ``avx2`` (AVX2 + FMA) and
``avx512`` (AVX-512 F/BW/DQ/VL).  A path is *available* when its module was built and
the CPU and OS support it (CPUID, XGETBV).  ``FASTNN_ISA`` chooses:

* ``auto`` (the default): the best available path by measured merit, see
  :data:`AVX512_MERIT`: ``avx512`` where it is at least as fast as ``avx2`` on this CPU
  family, else ``avx2``, else ``portable``;
* ``avx512``, ``avx2``, ``portable``: that path; a ``RuntimeError`` naming what is
  missing when this CPU, OS or build cannot run it.

:data:`isa_reason` says why the path in use was chosen (``fastnn.show_config()``).

Threads follow the conventions that joblib, Dask and threadpoolctl rely on to share
cores between processes:

* The starting count is ``FASTNN_NUM_THREADS``, else ``OMP_NUM_THREADS`` (its first
  entry: OpenMP allows one per nesting level), else the CPUs this process may run on.
  A variable that is not a positive integer is ignored with a warning, as OpenMP
  runtimes do; a value above :func:`max_threads` is lowered to it with a warning.
* :func:`set_num_threads` changes the count (a bad value is an error) and, used as a
  context manager, restores the previous count on exit.
* With threadpoolctl (>= 3.5) installed, fastnn registers its pool with it
  (``user_api="openmp"``, ``internal_api="fastnn"``): ``threadpool_info()`` lists it and
  ``threadpool_limits(n)`` limits it.  The count is one per process, not per thread.
* A build without OpenMP (a compiler without it, or ``FASTNN_OPENMP=0`` at build time)
  runs every kernel on one thread: the count stays 1, ``set_num_threads(n > 1)`` warns.
* Before ``os.fork()`` the OpenMP thread pool is released, so a forked child can run
  parallel regions (libgomp's pool does not survive fork: the child would wait for
  threads it does not have).  Where the OpenMP runtime cannot release it, the child
  falls back to one thread, with a warning.
"""
from __future__ import annotations

import contextlib
import importlib
import operator
import os
import warnings
from types import ModuleType
from typing import Dict, Iterator, Optional, Tuple

from ._kernels import _portable

__all__ = ["kernels", "modules", "set_num_threads", "get_num_threads", "max_threads"]


#: The paths from fastest to slowest, with what each needs of the CPU.
ISA_ORDER = ("avx512", "avx2", "portable")

#: AVX-512 on CPUs that execute 512-bit operations as two 256-bit halves, by CPUID
#: (vendor, family): True when ``benchmarks/bench_isa.py`` measured the avx512 path at
#: least as fast as avx2 on every ``fastnn bench`` row there (the rule ``auto``
#: applies), False when some row was slower.  Other AVX-512 CPUs (Intel since
#: Skylake-SP, AMD Zen 5) have full-width units, where the 512-bit tiles double the FMA
#: peak: ``auto`` uses avx512 there.
#:   AMD family 0x19 with AVX-512 = Zen 4 (EPYC 9004, Ryzen 7000): False.  On an EPYC
#:   (2026-12-05, 1 thread, CPU time, load average 15-17) avx512 was 0.99-1.18x avx2 on
#:   every GEMM row (square, MLP, 256x128 @ 128x10 and float64 128xn, n = 1..4: the
#:   narrow and matrix-vector shapes run 256-bit kernels on both paths) and
#:   1.15x on the fused linear row, but 0.89x and 0.92x on the batch-16 epoch in two
#:   runs (the other epochs 0.89-1.05x, noisy).  A later run (11 interleaved runs, load
#:   7-9) measured the 784-128-10 epochs at 1.14x (batch 16), 1.06x (64), 1.04x (256)
#:   and 0.99x (batch 1: the same compiled code on both paths, its rank-1 updates and
#:   skinny products), the GEMM rows at 0.97-1.22x: still no clear margin on every row.
#:   2026-12-05, later (bench_isa.py, median of 9 per-round ratios, load 3-11): 1 thread,
#:   CPU time: every GEMM row 1.00-1.25x, linear 1.07x, every epoch 1.02-1.16x.
#:   2 threads, wall time: the 64x128 @ 128x784 (B transposed) row was 0.81-0.89x (the
#:   8 x 32 tiles split its rows, so each thread packed all of B; the split now goes by
#:   columns there, 0.94-1.00x); the batch-16 epoch measured 0.93-1.09x over 9 runs
#:   (median 0.96-0.97), the others 0.95-1.24x: not shown to tie, so still False.
#:   2026-12-05, last (load 9-11): float64 256x128 @ 128x10 had run 7% slower on avx512
#:   (the V = 2 narrow tile's loop compared its count with kc spilled to the stack; it
#:   now counts down in a register: 0.99x, range 0.96-1.00); 1 thread, CPU time, median
#:   of 9: every GEMM row 0.99-1.21x, linear 1.09x, every epoch 0.99-1.17x (batch 1:
#:   the same compiled code on both paths).  2 threads: the batch-16 epoch 1.00x (range
#:   0.51-1.14: at that load a 2-thread epoch took 5x its 1-thread time), so still
#:   not shown to tie; still False.
AVX512_MERIT = {("AuthenticAMD", 0x19): False}


def _load_modules() -> Dict[str, ModuleType]:
    """The kernel modules this build has and this CPU and OS can run."""
    mods = {"portable": _portable}
    runnable = {"avx2": _portable.cpu_has_avx2_fma(), "avx512": _portable.cpu_has_avx512()}
    for isa, ok in runnable.items():
        if not ok:
            continue
        try:
            mods[isa] = importlib.import_module(f"{__package__}._kernels._{isa}")
        except ImportError:  # not built (another platform, or a compiler without the flags)
            pass
    return mods


def _missing(isa: str) -> str:
    """Why path ``isa`` cannot run here."""
    has = {"avx2": _portable.cpu_has_avx2_fma, "avx512": _portable.cpu_has_avx512}[isa]
    if not has():
        return f"this CPU or OS lacks {isa.upper()} (CPUID/XGETBV)"
    return f"this build of fastnn has no {isa} module (compiler without its flags?)"


def _auto(mods: Dict[str, ModuleType]) -> Tuple[str, str]:
    """The path ``FASTNN_ISA=auto`` picks, and why."""
    vendor, family, model = _portable.cpu_id()
    cpu = f"{vendor} family {family:#x} model {model:#x}"
    if "avx512" in mods:
        merit = AVX512_MERIT.get((vendor, family))
        if merit is None:
            return "avx512", f"auto: {cpu} has AVX-512 with full-width units"
        if merit:
            return "avx512", f"auto: {cpu} splits 512-bit ops, measured no slower than avx2"
        if "avx2" in mods:
            return "avx2", f"auto: {cpu} splits 512-bit ops, measured slower than avx2"
    if "avx2" in mods:
        return "avx2", f"auto: {cpu} has AVX2/FMA" + ("" if "avx512" in mods else ", no AVX-512")
    return "portable", f"auto: {cpu or 'this CPU'} has no AVX2/FMA path"


def _select(mods: Dict[str, ModuleType]) -> Tuple[ModuleType, str]:
    """The module ``FASTNN_ISA`` asks for and the reason shown by ``show_config()``."""
    raw = os.environ.get("FASTNN_ISA", "auto")
    want = raw.strip().lower() or "auto"
    if want == "auto":
        isa, reason = _auto(mods)
        return mods[isa], reason
    if want not in ISA_ORDER:
        raise ValueError(f"FASTNN_ISA must be 'auto', 'avx512', 'avx2' or 'portable'; "
                         f"received: {raw!r}")
    if want not in mods:
        raise RuntimeError(f"FASTNN_ISA={raw!r} cannot run here: {_missing(want)}; "
                           f"available paths: {', '.join(sorted(mods))}")
    return mods[want], f"FASTNN_ISA={raw}"


#: Every kernel module this CPU can run, by ISA name.
modules: Dict[str, ModuleType] = _load_modules()
#: The kernel module in use, and why it was chosen.
kernels, isa_reason = _select(modules)
#: Where the current thread count came from (shown by ``fastnn.show_config()``).
threads_source = "default"


@contextlib.contextmanager
def use(isa: str) -> Iterator[ModuleType]:
    """Run the ops and the model layer on path ``isa`` (one of :data:`modules`) inside the
    block, then restore the path in use (for benchmarks and tests; not thread-safe)."""
    from . import ops

    if isa not in modules:
        raise ValueError(f"isa must be one of {sorted(modules)}; received: {isa!r}")
    global kernels
    saved = kernels
    kernels = modules[isa]
    try:
        ops._bind(kernels)
        yield kernels
    finally:
        kernels = saved
        ops._bind(saved)


def max_threads() -> int:
    """The largest thread count fastnn accepts: 4 per online CPU (more only adds
    contention, and tens of thousands of threads crash the OpenMP runtime)."""
    return kernels.max_threads()


def _apply(n: int, source: str) -> None:
    global threads_source
    for mod in modules.values():
        mod.set_num_threads(n)
    threads_source = source if kernels.OPENMP else "built without OpenMP"


class _PreviousThreads:
    """What :func:`set_num_threads` returns: a context manager restoring the previous count."""

    def __init__(self, previous: int, source: str):
        self.previous, self._source = previous, source

    def __enter__(self) -> "_PreviousThreads":
        return self

    def __exit__(self, *exc_info) -> None:
        _apply(self.previous, self._source)

    def __repr__(self) -> str:
        return f"<fastnn thread count {get_num_threads()}, was {self.previous}>"


def set_num_threads(n: int) -> _PreviousThreads:
    """Set the number of threads the compiled kernels may use (results do not depend on it).

    ``n`` is an integer from 1 to :func:`max_threads`.  Also a context manager:
    ``with fastnn.set_num_threads(1): ...`` restores the previous count on exit.
    """
    if isinstance(n, bool) or not hasattr(n, "__index__"):
        raise TypeError(f"n must be an integer; received: {n!r}")
    n = operator.index(n)
    if n < 1:
        raise ValueError(f"n must be >= 1; received: {n}")
    if n > max_threads():
        raise ValueError(f"n must be <= {max_threads()} (4 threads per online CPU); received: {n}")
    if n > 1 and not kernels.OPENMP:
        warnings.warn("fastnn was built without OpenMP: its kernels run on one thread",
                      RuntimeWarning, stacklevel=2)
    restore = _PreviousThreads(get_num_threads(), threads_source)
    _apply(n, "set_num_threads")
    return restore


def get_num_threads() -> int:
    """The number of threads the compiled kernels may use."""
    return kernels.get_num_threads()


def _lenient_count(value, what: str) -> Optional[int]:
    """``value`` as a thread count for a setting that must not fail (an environment
    variable, threadpoolctl): None with a warning when it is not a positive integer,
    lowered to :func:`max_threads` with a warning when above it."""
    if isinstance(value, str):
        try:
            n = int(value)
        except ValueError:
            n = 0
    else:
        n = 0 if isinstance(value, bool) or not hasattr(value, "__index__") else operator.index(value)
    if n < 1:
        warnings.warn(f"fastnn ignores {what}={value!r}: the thread count must be a positive "
                      "integer", RuntimeWarning, stacklevel=3)
        return None
    if n > max_threads():
        warnings.warn(f"fastnn lowers {what}={value!r} to {max_threads()} threads (4 per online "
                      "CPU)", RuntimeWarning, stacklevel=3)
        return max_threads()
    return n


def _limit(value, what: str) -> None:
    """Set the count from ``value`` if it is usable (see :func:`_lenient_count`)."""
    n = _lenient_count(value, what)
    if n is not None:
        _apply(n, what)


def _default_threads() -> None:
    for name in ("FASTNN_NUM_THREADS", "OMP_NUM_THREADS"):
        text = os.environ.get(name, "").split(",")[0].strip()
        n = _lenient_count(text, name) if text else None
        if n is not None:
            _apply(n, f"{name}={os.environ[name]}")
            return
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    _apply(min(cpus, max_threads()), "CPUs available")


_released_before_fork = True


def _before_fork() -> None:
    global _released_before_fork
    _released_before_fork = bool(kernels.release_threads())


def _after_fork_in_child() -> None:
    if not _released_before_fork and get_num_threads() > 1:
        _apply(1, "forked child (OpenMP pool not released)")
        warnings.warn("fastnn runs 1 thread in this forked process: the OpenMP runtime could "
                      "not release its threads before fork", RuntimeWarning)


def _register_threadpoolctl() -> bool:
    """Register fastnn's pool with threadpoolctl, if installed (3.5 and newer)."""
    try:
        import threadpoolctl
    except ImportError:
        return False
    if not hasattr(threadpoolctl, "register"):
        return False
    from ._threadpool import FastnnController

    threadpoolctl.register(FastnnController)
    return True


_default_threads()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_before_fork, after_in_child=_after_fork_in_child)
#: True when threadpoolctl knows fastnn's pool.
threadpoolctl_registered = _register_threadpoolctl()
