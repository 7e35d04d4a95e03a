"""Build the compiled kernel layer.

The kernel sources (``_kernels/_<isa>.pyx``, which include the ``.pxi`` files, and every
``csrc/*.c``) are compiled once per entry of ``ISAS`` into ``fastnn._kernels._<isa>``;
``fastnn._dispatch`` picks one at import time from the CPU's features.  No
``-march=native``: a wheel runs on any CPU of its platform.

Flags are chosen once the compiler is known (``BuildKernels``): GCC and Clang, Apple
Clang (OpenMP through ``-Xpreprocessor -fopenmp`` and Homebrew's libomp) and, on Windows,
clang-cl each get their own.  The C kernels use GCC vector extensions, which MSVC's
``cl.exe`` lacks, so where setuptools picks MSVC the build compiles with clang-cl (LLVM's
MSVC-compatible driver: same command line, headers, ABI and linker) instead.  OpenMP is
used when that compiler builds and links an OpenMP program; otherwise the build goes on
without it, says so, and the kernels run on one thread.

Environment: ``FASTNN_DEBUG=1`` turns Cython bounds checking and debug information back
on (and skips stripping); ``FASTNN_SANITIZE=1`` builds with AddressSanitizer and
UndefinedBehaviorSanitizer (``-O1 -g``, halting on the first report; GCC/Clang only;
``tools/sanitize.sh`` builds and runs the tests so); ``FASTNN_OPENMP=0`` builds without OpenMP; ``FASTNN_LIBOMP``
is the prefix of libomp for Apple Clang (default: ``brew --prefix libomp``);
``FASTNN_CLANG_CL`` is the clang-cl.exe to use on Windows (default: the first of PATH, the
Visual Studio environment and ``%ProgramFiles%\\LLVM\\bin``).
"""
import contextlib
import glob
import os
import platform
import shutil
import subprocess
import sys
import tempfile

import numpy as np
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.errors import CCompilerError, ExecError, PlatformError
from setuptools.modified import newer_group

KDIR = os.path.join("src", "fastnn", "_kernels")
CSRC = os.path.join(KDIR, "csrc")
DEBUG = os.environ.get("FASTNN_DEBUG", "0") == "1"
SANITIZE = os.environ.get("FASTNN_SANITIZE", "0") == "1"
SANITIZER_FLAGS = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all"]
X86_64 = ("x86_64", "amd64")

#: The compiled paths: the machines each is built on (None: every machine) and its code
#: generation flags per compiler family ("unix": GCC/Clang, "clang-cl": Windows).
ISAS = {
    "portable": {"machines": None, "unix": [], "clang-cl": []},
    "avx2": {"machines": X86_64, "unix": ["-mavx2", "-mfma"], "clang-cl": ["-mavx2", "-mfma"]},
    # the compiler's own loops in 256-bit vectors: with 512 the short rows of small layers
    # (10, 32 values) fell to scalar remainders, 12% slower than avx2 on Zen 4
    "avx512": {"machines": X86_64,
               "unix": ["-mavx512f", "-mavx512bw", "-mavx512dq", "-mavx512vl", "-mfma",
                        "-mprefer-vector-width=256"],
               "clang-cl": ["-mavx512f", "-mavx512bw", "-mavx512dq", "-mavx512vl", "-mfma",
                            "/clang:-mprefer-vector-width=256"]},
}

#: Flags of every path, per compiler family: (compile, link).  clang-cl takes MSVC's
#: spellings and GCC's -m, -W; other GCC options through /clang: (its math-errno default
#: follows MSVC's: on).
BASE_FLAGS = {
    "unix": ((["-O1", "-g", "-fno-omit-frame-pointer"] + SANITIZER_FLAGS if SANITIZE
              else ["-O3"] + ([] if DEBUG else ["-g0"]))
             + ["-fno-math-errno", "-fno-trapping-math", "-fvisibility=hidden",
                "-Wno-unused-function", "-Wno-unreachable-code"],
             SANITIZER_FLAGS if SANITIZE
             else [] if DEBUG or sys.platform == "darwin" else ["-s"]),
    "clang-cl": (["/O2", "/clang:-O3", "/clang:-fno-math-errno", "-Wno-unused-function",
                  "-Wno-unreachable-code"], []),
}


def compile_flags(family, isa):
    """The flags path ``isa`` is compiled with by a compiler of ``family`` (no OpenMP)."""
    return BASE_FLAGS[family][0] + ISAS[isa][family]


CYTHON_DIRECTIVES = {
    "language_level": 3,
    "boundscheck": DEBUG,
    "wraparound": False,
    "cdivision": True,
    "initializedcheck": DEBUG,
    "embedsignature": True,
}

NO_COMPILER = """
fastnn compiles its kernels from C when no prebuilt wheel fits this platform, and this
machine has no working C compiler or no Python headers ({error}).  Install them, then
run pip again:
  Debian/Ubuntu:  sudo apt install build-essential python3-dev
  Fedora/RHEL:    sudo dnf install gcc python3-devel
  Alpine:         apk add build-base python3-dev
  macOS:          xcode-select --install
  Windows:        Visual Studio Build Tools with "C++ Clang tools for Windows"
                  (https://visualstudio.microsoft.com/visual-cpp-build-tools/)
"""

NO_CLANG_CL = """
fastnn's C kernels use GCC vector extensions, which MSVC's cl.exe cannot compile; on
Windows they are built with clang-cl, LLVM's MSVC-compatible compiler, and none was found
(looked in {where}).  Install one of:
  - Visual Studio (Build Tools) with the component "C++ Clang tools for Windows"
  - LLVM from https://github.com/llvm/llvm-project/releases (or: winget install LLVM.LLVM)
then run pip again, or set FASTNN_CLANG_CL to the path of clang-cl.exe.
"""

NO_OPENMP = ("fastnn: {compiler} cannot build OpenMP programs here ({why}); building "
             "without OpenMP: the kernels will run on one thread. {hint}")


def _libomp_prefix():
    """Where Apple Clang finds libomp: FASTNN_LIBOMP, else Homebrew's."""
    if os.environ.get("FASTNN_LIBOMP"):
        return os.environ["FASTNN_LIBOMP"]
    if shutil.which("brew"):
        out = subprocess.run(["brew", "--prefix", "libomp"], capture_output=True, text=True)
        if out.returncode == 0:
            return out.stdout.strip()
    return None


def find_clang_cl(search_path=""):
    """clang-cl.exe: FASTNN_CLANG_CL, else the first on PATH, on ``search_path`` (the Visual
    Studio environment's, which holds its "C++ Clang tools") or in %ProgramFiles%\\LLVM\\bin.
    Returns (its path or None, the places looked in)."""
    if os.environ.get("FASTNN_CLANG_CL"):
        path = os.environ["FASTNN_CLANG_CL"]
        return (path if os.path.isfile(path) else None), [f"FASTNN_CLANG_CL={path}"]
    llvm_bin = os.path.join(os.environ.get("ProgramFiles", r"C:\Program Files"), "LLVM", "bin")
    places = {"PATH": os.environ.get("PATH", ""), "the Visual Studio environment": search_path,
              llvm_bin: llvm_bin}
    for path in places.values():
        found = shutil.which("clang-cl", path=path) if path else None
        if found:
            return found, list(places)
    return None, list(places)


def use_clang_cl(compiler):
    """Make setuptools' MSVC compiler run clang-cl in place of cl.exe (the same options,
    Visual Studio's headers, libraries and link.exe), without /GL: MSVC's whole-program
    code generation, which clang-cl does not do.  Returns clang-cl's path; exits with
    what to install when there is none."""
    if not compiler.initialized:
        compiler.initialize()
    path, places = find_clang_cl(getattr(compiler, "_paths", ""))
    if path is None:
        raise SystemExit(NO_CLANG_CL.format(where=", ".join(places)))
    compiler.cc = path
    for name in ("compile_options", "compile_options_debug"):
        setattr(compiler, name, [flag for flag in getattr(compiler, name) if flag != "/GL"])
    return path


def openmp_candidates(family, cc=None):
    """(compile flags, link flags) that may enable OpenMP for this compiler family (``cc``:
    the compiler's path)."""
    if family == "clang-cl":
        # LLVM's runtime: libomp.lib beside clang-cl (an LLVM install), else on the
        # linker's own path (Visual Studio's LLVM OpenMP runtime)
        llvm_lib = os.path.join(os.path.dirname(os.path.dirname(cc)), "lib")
        return [(["/openmp"], [f"/LIBPATH:{llvm_lib}", "libomp.lib"])]
    if sys.platform == "darwin":
        prefix = _libomp_prefix()
        if prefix is None:
            return []
        return [(["-Xpreprocessor", "-fopenmp", f"-I{prefix}/include"],
                 [f"-L{prefix}/lib", "-lomp", f"-Wl,-rpath,{prefix}/lib"])]
    return [(["-fopenmp"], ["-fopenmp"])]


@contextlib.contextmanager
def _quiet():
    """Silence the compiler's own output (file descriptors 1 and 2) during a probe."""
    saved = [os.dup(1), os.dup(2)]
    with open(os.devnull, "w") as null:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(null.fileno(), 1)
        os.dup2(null.fileno(), 2)
        try:
            yield
        finally:
            for fd, copy in zip((1, 2), saved):
                os.dup2(copy, fd)
                os.close(copy)


def probe(compiler, code, compile_args=(), link_args=None, include_dirs=()):
    """Compile ``code`` with ``compiler`` (and link it when ``link_args`` is not None).
    Returns None on success, else the error text."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "probe.c")
        with open(path, "w") as fh:
            fh.write(code)
        try:
            with _quiet():
                objects = compiler.compile([path], output_dir=tmp, include_dirs=list(include_dirs),
                                           extra_postargs=list(compile_args))
                if link_args is not None:
                    compiler.link_executable(objects, "probe", output_dir=tmp,
                                             extra_postargs=list(link_args))
        except (CCompilerError, ExecError, PlatformError, OSError) as exc:
            return str(exc) or type(exc).__name__
    return None


class BuildKernels(build_ext):
    """build_ext that checks the compiler, gives every kernel module the flags of that
    compiler (base, its path's ISA flags, OpenMP when available), leaves out a path whose
    flags the compiler rejects, and builds the paths in parallel (one job per path)."""

    def finalize_options(self):
        super().finalize_options()
        if self.parallel is None:
            self.parallel = min(len(self.extensions), os.cpu_count() or 1)

    def build_extensions(self):
        if self.compiler.compiler_type == "msvc":
            family, cc = "clang-cl", use_clang_cl(self.compiler)
        else:
            family, cc = "unix", None
        self._check_compiler()
        omp_compile, omp_link = self._openmp(family, cc)
        self.extensions = [ext for ext in self.extensions if self._accepts(ext.isa, family)]
        for ext in self.extensions:
            flags = compile_flags(family, ext.isa) + omp_compile
            ext.extra_compile_args = flags
            ext.extra_link_args = BASE_FLAGS[family][1] + omp_link
            ext.define_macros += [("FNN_BUILD_FLAGS", '"' + " ".join(flags) + '"'),
                                  ("FNN_OPENMP", "1" if omp_compile else "0")]
        self._cythonize()
        super().build_extensions()

    def _cythonize(self):
        """Generate each module's C under build/ (out of the sources), one after the other:
        the Cython compiler is not meant to run in several threads at once."""
        from Cython.Build import cythonize

        for ext in self.extensions:
            (generated,) = cythonize([ext], build_dir=self.build_temp, include_path=[KDIR],
                                     compiler_directives=CYTHON_DIRECTIVES, force=self.force,
                                     quiet=True)
            ext.sources = generated.sources

    def build_extension(self, ext):
        """Compile csrc/*.c into this path's own directory (each ISA compiles the same
        files with its own flags, possibly in parallel), then the module's C, and link."""
        objects_dir = os.path.join(self.build_temp, ext.isa)
        ext.extra_objects = self.compiler.object_filenames(ext.c_sources, output_dir=objects_dir)
        if self.force or newer_group(ext.sources + ext.depends, self.get_ext_fullpath(ext.name)):
            self.compiler.compile(ext.c_sources, output_dir=objects_dir, macros=ext.define_macros,
                                  include_dirs=ext.include_dirs, depends=ext.depends,
                                  extra_postargs=ext.extra_compile_args)
        super().build_extension(ext)

    def _accepts(self, isa, family):
        """True when the compiler takes the ISA flags of path ``isa`` (else it is left out)."""
        flags = ISAS[isa][family]
        if not flags or probe(self.compiler, "int main(void) { return 0; }\n", flags) is None:
            return True
        print(f"fastnn: the compiler rejects {' '.join(flags)}; the {isa} path is left out",
              file=sys.stderr)
        return False

    def _check_compiler(self):
        import sysconfig

        error = probe(self.compiler, "#include <Python.h>\nint main(void) { return 0; }\n",
                      include_dirs=[sysconfig.get_paths()["include"]])
        if error is not None:
            raise SystemExit(NO_COMPILER.format(error=error.strip()))

    def _openmp(self, family, cc):
        if os.environ.get("FASTNN_OPENMP", "1") == "0":
            print("fastnn: FASTNN_OPENMP=0, building without OpenMP: the kernels will run on "
                  "one thread", file=sys.stderr)
            return [], []
        code = "#include <omp.h>\nint main(void) { return omp_get_max_threads() < 0; }\n"
        why = "no libomp found (brew install libomp, or set FASTNN_LIBOMP)"
        for compile_args, link_args in openmp_candidates(family, cc):
            why = probe(self.compiler, code, compile_args, link_args)
            if why is None:
                return compile_args, link_args
        hint = ("Install libomp (brew install libomp) for threads." if sys.platform == "darwin"
                else "Install LLVM with its OpenMP runtime (libomp.lib, libomp.dll) for threads."
                if family == "clang-cl"
                else "Use GCC, or install the OpenMP runtime (libomp-dev for Clang), for threads.")
        print(NO_OPENMP.format(compiler=cc or self.compiler.compiler_type, why=why.strip().splitlines()[-1],
                               hint=hint), file=sys.stderr)
        return [], []


def extension(isa):
    c_sources = sorted(glob.glob(os.path.join(CSRC, "*.c")))
    ext = Extension(
        f"fastnn._kernels._{isa}",
        sources=[os.path.join(KDIR, f"_{isa}.pyx")],
        include_dirs=[np.get_include(), CSRC, KDIR],
        depends=c_sources + sorted(glob.glob(os.path.join(CSRC, "*.h"))
                                   + glob.glob(os.path.join(KDIR, "*.pxi"))
                                   + glob.glob(os.path.join(KDIR, "*.pxd"))),
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
    )
    ext.isa = isa
    ext.c_sources = c_sources  # compiled by BuildKernels.build_extension
    return ext


def isas_for(machine):
    """The entries of ISAS built on ``machine`` (platform.machine())."""
    return [isa for isa, spec in ISAS.items()
            if spec["machines"] is None or machine.lower() in spec["machines"]]


if __name__ == "__main__":  # as setuptools runs it; tools/build_flags.py reads the tables
    setup(
        ext_modules=[extension(isa) for isa in isas_for(platform.machine())],
        cmdclass={"build_ext": BuildKernels},
    )
