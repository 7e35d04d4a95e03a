#!/usr/bin/env bash
# Build the kernels with AddressSanitizer + UndefinedBehaviorSanitizer and run the test
# suite on that build; exits non-zero on the first sanitizer report or test failure.
#
#   tools/sanitize.sh [pytest arguments]     (default: the whole suite, tests/)
#
# The build goes to a copy of the sources and tests in $FASTNN_SANITIZE_DIR (default
# build/sanitize), so the normal in-place build is untouched; pytest arguments are
# paths in that copy (tests/test_gemm.py) or any other pytest option.  Flags: -O1 -g
# -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all (see
# setup.py, FASTNN_SANITIZE).  Python itself is not instrumented: libasan is preloaded
# (with libstdc++), leak detection is off (the interpreter keeps memory until exit by
# design) and Python's small-object allocator is bypassed (PYTHONMALLOC=malloc) so that
# ASan sees every block.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
out="${FASTNN_SANITIZE_DIR:-$repo/build/sanitize}"
python="${PYTHON:-python}"
cc="${CC:-cc}"

libasan="$("$cc" -print-file-name=libasan.so)"
if [ ! -e "$libasan" ]; then
    echo "sanitize.sh: $cc has no libasan.so (install the compiler's sanitizer runtime)" >&2
    exit 2
fi
# libstdc++ preloaded with it: ASan intercepts __cxa_throw and must find the real one
# when a C++ extension (matplotlib's) throws, or it aborts the test process
libstdcxx="$(readlink -f "$("$cc" -print-file-name=libstdc++.so)")"

# the project as it is in the working tree (every tracked file, as edited, plus new
# untracked ones; without git: everything but build products), in a directory of its own
rm -rf "$out/tree"
mkdir -p "$out/tree"
if git -C "$repo" rev-parse --is-inside-work-tree > /dev/null 2>&1; then
    (cd "$repo" && git ls-files -z --cached --others --exclude-standard \
        | while IFS= read -r -d '' f; do [ ! -e "$f" ] || printf '%s\0' "$f"; done \
        | tar --null -cf - -T -) | tar -xf - -C "$out/tree"
else
    (cd "$repo" && tar -cf - --exclude=./build --exclude=./.git --exclude='*.so' \
        --exclude='*.egg-info' --exclude=__pycache__ .) | tar -xf - -C "$out/tree"
fi
find "$out/tree/src" \( -name '*.so' -o -name '_avx512.c' -o -name '_avx2.c' -o -name '_portable.c' \) -delete
start=$(date +%s)
(cd "$out/tree" && FASTNN_SANITIZE=1 "$python" setup.py -q build_ext --inplace -j 2 \
    --build-temp "$out/temp" > "$out/build.log" 2>&1) || { cat "$out/build.log" >&2; exit 1; }
echo "sanitize.sh: sanitized build in $(( $(date +%s) - start )) s ($out/tree)"

if [ $# -eq 0 ]; then
    set -- tests
fi
# reports go to files: pytest captures stderr, and a test worker that aborts loses it
reports="$out/reports"
rm -rf "$reports"
mkdir -p "$reports"
start=$(date +%s)
status=0
(cd "$out/tree" && \
    LD_PRELOAD="$libasan${libstdcxx:+ $libstdcxx}" \
    ASAN_OPTIONS="detect_leaks=0:halt_on_error=1:abort_on_error=1:allocator_may_return_null=1:log_path=$reports/asan${ASAN_OPTIONS:+:$ASAN_OPTIONS}" \
    UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$reports/ubsan${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}" \
    PYTHONMALLOC=malloc PYTHONPATH="$out/tree/src" \
    "$python" -m pytest -x -q -p no:cacheprovider "$@") || status=$?
echo "sanitize.sh: sanitized tests in $(( $(date +%s) - start )) s, exit status $status"
if [ -n "$(ls -A "$reports")" ]; then
    for report in "$reports"/*; do
        echo "---- $report" >&2
        cat "$report" >&2
    done
    [ $status -ne 0 ] || status=1
fi
exit $status
