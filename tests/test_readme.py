"""The README's Python code blocks run as written: each test runs the blocks up to its
own, in order, in one namespace and a temporary directory (a block uses the names the
earlier ones define, as a reader would)."""
import pathlib
import re

import pytest

import fastnn

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"^```python\n(.*?)^```", README.read_text(), re.S | re.M) if README.exists() else []
#: modules of the optional extras: a block that imports one is skipped without it
OPTIONAL = {"sklearn", "distributed", "dask", "joblib"}


def test_readme_has_python_blocks():
    if not README.exists():
        pytest.skip("README.md is not next to the tests")
    assert len(BLOCKS) >= 5


@pytest.mark.parametrize("index", range(len(BLOCKS)), ids=lambda i: f"block{i}")
def test_readme_block_runs(index, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "__readme__"}
    with fastnn.set_num_threads(fastnn.get_num_threads()):  # a block may change the count
        for i, code in enumerate(BLOCKS[:index + 1]):
            try:
                exec(compile(code, f"README.md python block {i}", "exec"), namespace)
            except ModuleNotFoundError as exc:
                if exc.name.split(".")[0] not in OPTIONAL:
                    raise
                pytest.skip(f"README block {i} needs {exc.name} (an optional extra)")
