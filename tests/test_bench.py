"""`fastnn bench` runs, prints its table and writes JSON (timings are never asserted)."""
import json

import pytest

from fastnn.__main__ import main


def test_bench_quick_row_table_and_json(tmp_path, capsys):
    path = tmp_path / "bench.json"
    assert main(["bench", "--quick", "--repeats", "1", "--only", "256x10",
                 "--json", str(path)]) == 0
    out = capsys.readouterr().out
    assert "softmax-CE loss+grad float32 256x10" in out and "x vs numpy" in out
    payload = json.loads(path.read_text())
    assert payload["machine"]["isa"] in ("avx2", "portable")
    (row,) = payload["rows"]
    assert row["times"]["fastnn"] > 0 and row["times"]["numpy"] > 0


def test_bench_reports_gemm_peak(capsys):
    assert main(["bench", "--quick", "--repeats", "1", "--only", "float64 512x512"]) == 0
    out = capsys.readouterr().out
    assert "float64 peak measured on 1 core(s)" in out and "fastnn" in out.split("reaches:")[1]


@pytest.mark.parametrize("argv", [["bench", "--threads", "0"], ["bench", "--repeats", "x"],
                                  ["demo", "--epochs", "-3"], ["demo", "--lr", "-1"],
                                  ["demo", "--lr", "nan"]])
def test_command_line_rejects_bad_numbers(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert "expected a positive" in capsys.readouterr().err
