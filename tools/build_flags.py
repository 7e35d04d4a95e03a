"""Prints the compile flags setup.py gives one compiled path for one compiler family
(``python tools/build_flags.py unix avx2``), so that the cross-compiling test scripts
(tools/c_harness.sh) build the C kernels exactly as the package does."""
import pathlib
import runpy
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]


def main(argv: list) -> int:
    build = runpy.run_path(str(ROOT / "setup.py"), run_name="fastnn_build_flags")
    if len(argv) != 2 or argv[0] not in build["BASE_FLAGS"] or argv[1] not in build["ISAS"]:
        print(f"usage: build_flags.py {{{','.join(build['BASE_FLAGS'])}}} "
              f"{{{','.join(build['ISAS'])}}}", file=sys.stderr)
        return 2
    print(" ".join(build["compile_flags"](*argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
