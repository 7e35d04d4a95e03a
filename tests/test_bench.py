"""`fastnn bench` runs, prints its table and writes JSON (timings are never asserted)."""
import json

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
