"""Build the compiled kernel layer.

The same kernel sources are compiled once per instruction set of the table ``ISAS``:
``fastnn._kernels._portable`` with the baseline flags of the platform and, on x86-64,
``_avx2`` (AVX2/FMA) and ``_avx512`` (AVX-512 F/BW/DQ/VL).  ``fastnn._dispatch`` picks
one at import time from the CPU's features.  No ``-march=native``: the wheel runs on any
x86-64 CPU.  A path whose flags the compiler rejects is left out of the build.

Set ``FASTNN_DEBUG=1`` while building to turn Cython bounds checking back on.
"""
import glob
import os
import platform
import shutil
import subprocess
import sys
import tempfile

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup

KDIR = os.path.join("src", "fastnn", "_kernels")
CSRC = os.path.join(KDIR, "csrc")
DEBUG = os.environ.get("FASTNN_DEBUG", "0") == "1"

BASE_FLAGS = ["-O3", "-fno-math-errno", "-fno-trapping-math", "-fvisibility=hidden",
              "-Wno-unused-function", "-Wno-unreachable-code"]
#: The compiled paths: name -> (machines it is built on, None for all; its C flags).
ISA_TABLE = {
    "portable": (None, []),
    "avx2": (("x86_64", "amd64"), ["-mavx2", "-mfma"]),
    "avx512": (("x86_64", "amd64"), ["-mavx512f", "-mavx512bw", "-mavx512dq", "-mavx512vl",
                                     "-mfma", "-mprefer-vector-width=512"]),
}


def _compiler_accepts(flags, src="#include <omp.h>\nint main(void){return omp_get_max_threads() < 0;}\n"):
    """True when the C compiler builds and links the program ``src`` (by default one
    using OpenMP) with ``flags``."""
    cc = os.environ.get("CC", "cc")
    if shutil.which(cc.split()[0]) is None:
        return False
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "t.c")
        with open(path, "w") as fh:
            fh.write(src)
        cmd = cc.split() + [path, "-o", os.path.join(tmp, "t")] + flags
        return subprocess.call(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) == 0


OPENMP = ["-fopenmp"] if _compiler_accepts(["-fopenmp"]) else []
MACHINE = platform.machine().lower()
ISAS = [isa for isa, (machines, flags) in ISA_TABLE.items()
        if (machines is None or MACHINE in machines)
        and (not flags or _compiler_accepts(flags, "int main(void){return 0;}\n"))]


def extension(isa):
    flags = BASE_FLAGS + ISA_TABLE[isa][1] + OPENMP
    return Extension(
        f"fastnn._kernels._{isa}",
        sources=[os.path.join(KDIR, f"_{isa}.pyx")] + sorted(glob.glob(os.path.join(CSRC, "*.c"))),
        include_dirs=[np.get_include(), CSRC, KDIR],
        depends=sorted(glob.glob(os.path.join(CSRC, "*.h")) + glob.glob(os.path.join(KDIR, "*.pxi"))
                       + glob.glob(os.path.join(KDIR, "*.pxd"))),
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION"),
                       ("FNN_BUILD_FLAGS", '"' + " ".join(flags) + '"'),
                       ("FNN_OPENMP", "1" if OPENMP else "0")],
        extra_compile_args=flags,
        extra_link_args=OPENMP,
    )


setup(
    ext_modules=cythonize(
        [extension(isa) for isa in ISAS],
        compiler_directives={
            "language_level": 3,
            "boundscheck": DEBUG,
            "wraparound": False,
            "cdivision": True,
            "initializedcheck": DEBUG,
            "embedsignature": True,
        },
        include_path=[KDIR],
    ),
)
