"""Build the compiled kernel layer.

The same kernel sources are compiled twice: ``fastnn._kernels._portable`` with the
baseline flags of the platform, and (on x86-64) ``fastnn._kernels._avx2`` with AVX2/FMA
enabled.  ``fastnn._dispatch`` picks one at import time from the CPU's features.  No
``-march=native``: the wheel runs on any x86-64 CPU.

Set ``FASTNN_DEBUG=1`` while building to turn Cython bounds checking back on, and
``FASTNN_SANITIZE=1`` to build with AddressSanitizer and UndefinedBehaviorSanitizer
(``-O1 -g``, halting on the first report; ``tools/sanitize.sh`` builds and runs the tests so).
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
SANITIZE = os.environ.get("FASTNN_SANITIZE", "0") == "1"

SANITIZER_FLAGS = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all"]
BASE_FLAGS = (["-O1", "-g", "-fno-omit-frame-pointer"] + SANITIZER_FLAGS if SANITIZE
              else ["-O3"]) + ["-fno-math-errno", "-fno-trapping-math", "-fvisibility=hidden",
                               "-Wno-unused-function", "-Wno-unreachable-code"]
ISA_FLAGS = {"portable": [], "avx2": ["-mavx2", "-mfma"]}


def _compiler_accepts(flags):
    """True when the C compiler builds and links an OpenMP program with ``flags``."""
    cc = os.environ.get("CC", "cc")
    if shutil.which(cc.split()[0]) is None:
        return False
    src = "#include <omp.h>\nint main(void){return omp_get_max_threads() < 0;}\n"
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "t.c")
        with open(path, "w") as fh:
            fh.write(src)
        cmd = cc.split() + [path, "-o", os.path.join(tmp, "t")] + flags
        return subprocess.call(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) == 0


OPENMP = ["-fopenmp"] if _compiler_accepts(["-fopenmp"]) else []
IS_X86 = platform.machine().lower() in ("x86_64", "amd64")
ISAS = ["portable", "avx2"] if IS_X86 else ["portable"]


def extension(isa):
    flags = BASE_FLAGS + ISA_FLAGS[isa] + OPENMP
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
        extra_link_args=OPENMP + (SANITIZER_FLAGS if SANITIZE else []),
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
