"""The C kernels on Windows x86-64: tools/test_windows.sh cross-compiles them with the C
harness tests/c/kernel_harness.c (MinGW-w64 GCC, and clang-cl's MSVC target as a Windows
build of the package compiles them) for every path this CPU runs and runs it under wine.
Skipped unless Debian's mingw-w64 and wine are installed; the clang-cl half also needs
clang, lld and libwine-dev."""
from _helpers import needs_programs, run_tools_script

from fastnn import _dispatch


@needs_programs("x86_64-w64-mingw32-gcc-posix", "wine",
                install="apt-get install -y gcc-mingw-w64-x86-64 wine64; for clang-cl also "
                        "clang lld libwine-dev")
def test_c_kernels_on_windows_under_wine():
    out = run_tools_script("test_windows.sh", timeout=1800)
    kernels = _dispatch.kernels
    isas = ["portable"] + (["avx2"] if kernels.cpu_has_avx2_fma() else []) + (
        ["avx512"] if kernels.cpu_has_avx512() else [])
    compilers = ["mingw"] + ([] if "clang-cl: skipped" in out else ["clang-cl"])
    vendor, family, model = kernels.cpu_id()
    # what Windows reports through the harness is what Linux reports to fastnn
    cpu = (f"cpu: vendor={vendor} family={family} model={model} "
           f"avx2_fma={int(kernels.cpu_has_avx2_fma())} avx512={int(kernels.cpu_has_avx512())}")
    for compiler in compilers:
        for isa in isas:
            name = f"{compiler} {isa}"
            assert f"{name}: fastnn C kernels, {isa} path" in out, out[-3000:]
            assert f"{name}:   {cpu}" in out
            assert f"{name}:   threads: 3 exit calls registered" in out
            assert f"{name}:   word2vec:" in out
            (summary,) = [line for line in out.splitlines()
                          if line.startswith(f"{name}: ") and line.endswith(" failures")]
            assert summary.endswith(" 0 failures") and int(summary.split()[-4]) > 1000, summary
