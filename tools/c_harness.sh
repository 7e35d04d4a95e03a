# Shared by tools/test_aarch64.sh and tools/test_windows.sh (sourced, POSIX sh): where the
# C kernel layer and its harness (tests/c/kernel_harness.c) are, a scratch directory, and
# build_harness, which compiles them with the flags setup.py gives a path.
# Environment: PYTHON (python3), which runs tools/build_flags.py (it reads setup.py).
root=$(cd "$(dirname "$0")/.." && pwd)
csrc=$root/src/fastnn/_kernels/csrc
harness=$root/tests/c/kernel_harness.c
python=${PYTHON:-python3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# build_flags FAMILY ISA: setup.py's compile flags of path ISA for compiler FAMILY.
build_flags() {
    "$python" "$root/tools/build_flags.py" "$1" "$2"
}

# build_harness CC ISA OUT [ARGS...]: the harness and every csrc/*.c, compiled by the GCC
# CC with the flags of path ISA and OpenMP, linked (with ARGS) into OUT.
build_harness() {
    _cc=$1 _isa=$2 _out=$3
    shift 3
    _flags="$(build_flags unix "$_isa") -fopenmp"
    # shellcheck disable=SC2086  # the flags are words
    $_cc $_flags -DFNN_OPENMP=1 -DFNN_BUILD_FLAGS="\"$_flags\"" -I"$csrc" "$harness" \
        "$csrc"/*.c "$@" -lm -o "$_out"
}
