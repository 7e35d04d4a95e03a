"""The command line and the scripts users run: `fastnn demo`, `fastnn bench` (its table
and JSON; timings are never asserted), `fastnn config`, argument checks, the examples."""
import argparse
import json
import os
import pathlib
import runpy
import subprocess
import sys

import pytest

import fastnn
from fastnn.__main__ import build_parser, main
from _helpers import drawn_points, legend_texts, png_size


def test_demo_reaches_95_percent(capsys):
    assert main(["demo", "--epochs", "30"]) == 0
    out = capsys.readouterr().out
    accuracy = float(out.split("test accuracy:")[1].split("%")[0])
    assert accuracy >= 95.0, out


def test_bench_quick_row_table_and_json(tmp_path, capsys):
    path = tmp_path / "bench.json"
    assert main(["bench", "--quick", "--repeats", "1", "--only", "256x10",
                 "--json", str(path)]) == 0
    out = capsys.readouterr().out
    assert "softmax-CE loss+grad float32 256x10" in out and "x vs numpy" in out
    payload = json.loads(path.read_text())
    assert payload["machine"]["isa"] in fastnn._dispatch.modules
    (row,) = payload["rows"]
    assert row["times"]["fastnn"] > 0 and row["times"]["numpy"] > 0


def test_bench_runs_every_path_side_by_side(capsys):
    assert main(["bench", "--quick", "--repeats", "1", "--only", "256x10", "--isa", "all"]) == 0
    out = capsys.readouterr().out
    for isa in fastnn._dispatch.modules:
        assert f"fastnn-{isa} time" in out and f"{isa} x vs numpy" in out


def test_bench_rejects_unknown_path(capsys):
    assert main(["bench", "--isa", "sse9"]) == 2
    assert "--isa must be" in capsys.readouterr().err


def test_bench_json_dash_puts_only_json_on_stdout(capsys):
    assert main(["bench", "--quick", "--repeats", "1", "--only", "256x10", "--json", "-"]) == 0
    captured = capsys.readouterr()
    payload = json.loads(captured.out)
    assert [row["name"] for row in payload["rows"]] == ["softmax-CE loss+grad float32 256x10"]
    assert "x vs numpy" in captured.err and "x vs numpy" not in captured.out


def test_bench_table_has_no_column_of_a_peer_that_did_not_run(capsys):
    # scikit-learn is installed but only times the training rows; this row has no flops
    assert main(["bench", "--quick", "--repeats", "1", "--only", "256x10", "--json", "-"]) == 0
    captured = capsys.readouterr()
    header = next(line for line in captured.err.splitlines() if line.startswith("| workload"))
    assert "sklearn" not in header and "GFLOP/s" not in header
    assert "sklearn" not in json.loads(captured.out)["peers"]
    table = [line for line in captured.err.splitlines() if line.startswith("|")]
    for line in table[2:]:
        assert all(cell.strip() not in ("", "-") for cell in line.strip("|").split("|")), line


def test_version(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"fastnn {fastnn.__version__}"


def _options(parser):
    """(command, action) for every option of ``parser`` and of its subcommands."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from ((f"{name} {cmd}".strip(), a) for cmd, a in _options(sub))
        elif action.option_strings and action.help is not argparse.SUPPRESS:
            yield "", action


def test_every_option_help_shows_its_default():
    parser = build_parser()
    options = list(_options(parser))
    assert len(options) > 10
    for command, action in options:
        if isinstance(action, (argparse._HelpAction, argparse._VersionAction)):
            continue
        assert "default" in (action.help or ""), (command, action.option_strings)
    for command in ("demo", "bench"):
        text = parser._subparsers._group_actions[0].choices[command].format_help()
        assert "(default: 30)" in text or "(default: 5)" in text


def test_bench_reports_gemm_peak(capsys):
    assert main(["bench", "--quick", "--repeats", "1", "--only", "float64 512x512"]) == 0
    out = capsys.readouterr().out
    assert "float64 peak measured on 1 core(s)" in out and "fastnn" in out.split("reaches (of")[1]


@pytest.mark.parametrize("argv", [["bench", "--threads", "0"], ["bench", "--repeats", "x"],
                                  ["demo", "--epochs", "-3"], ["demo", "--lr", "-1"],
                                  ["demo", "--lr", "nan"]])
def test_command_line_rejects_bad_numbers(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert "expected a positive" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["bench", "demo"])
def test_command_line_rejects_more_threads_than_the_bound(command, capsys):
    with pytest.raises(SystemExit) as exc:
        main([command, "--threads", "100000"])
    assert exc.value.code == 2
    assert "expected at most" in capsys.readouterr().err


def test_config_prints_the_kernel_path(capsys):
    assert main(["config"]) == 0
    out = capsys.readouterr().out
    assert f"isa: {fastnn._dispatch.kernels.ISA}" in out and "threads:" in out


def test_bench_module_does_not_import_the_command_line():
    src = os.path.dirname(os.path.dirname(fastnn.__file__))
    code = "import sys, fastnn.bench; sys.exit('fastnn.__main__' in sys.modules)"
    env = dict(os.environ, PYTHONPATH=src)
    assert subprocess.run([sys.executable, "-c", code], env=env).returncode == 0


@pytest.fixture
def drawn(monkeypatch):
    """Render under Agg; every axes handed to ``save_figure`` is kept in the list returned."""
    pytest.importorskip("matplotlib", reason="the pictures need matplotlib (the plot extra)")
    import matplotlib

    matplotlib.use("Agg")
    from fastnn import plotting

    saved, save = [], plotting.save_figure

    def keep(ax, path, **kwargs):
        saved.append(ax)
        save(ax, path, **kwargs)

    monkeypatch.setattr(plotting, "save_figure", keep)
    return saved


def test_demo_plot_draws_the_learning_curves(tmp_path, capsys, drawn):
    path = tmp_path / "curves.png"
    assert main(["demo", "--epochs", "4", "--plot", str(path)]) == 0
    assert f"learning curves written to {path}" in capsys.readouterr().out
    assert png_size(path) == (800, 500)
    (ax,) = drawn
    assert legend_texts(ax) == ["training loss", "validation loss", "validation accuracy"]
    assert ax.get_xlabel() == "epoch" and len(ax.get_lines()[0].get_xdata()) == 4


@pytest.mark.parametrize("command", ["demo", "bench"])
def test_plot_option_checks_folder_and_matplotlib(command, tmp_path, capsys, monkeypatch):
    with pytest.raises(SystemExit) as exc:
        main([command, "--plot", str(tmp_path / "missing" / "x.png")])
    assert exc.value.code == 2 and "no folder" in capsys.readouterr().err
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(SystemExit) as exc:
        main([command, "--plot", str(tmp_path / "x.png")])
    assert exc.value.code == 2 and 'pip install "fastnn[plot]"' in capsys.readouterr().err


def autoencoder_main():
    path = pathlib.Path(__file__).resolve().parents[1] / "examples" / "autoencoder.py"
    if not path.exists():
        pytest.skip("examples/ is not next to the tests")
    return runpy.run_path(str(path))["main"]


def test_autoencoder_example_runs(capsys):
    autoencoder_main()([])
    out = capsys.readouterr().out
    first, last = (float(v) for v in out.split("first epoch ")[1].split(", test")[0].split(", last "))
    assert last < first / 4


@pytest.mark.parametrize("method, axis", [("tsne", "t-SNE 1"), ("pca", "PC1")])
def test_autoencoder_example_draws_the_codes(tmp_path, capsys, drawn, method, axis):
    path = tmp_path / "codes.png"
    autoencoder_main()(["--plot", str(path), "--method", method])
    assert f"codes drawn in {path}" in capsys.readouterr().out
    assert png_size(path) == (700, 560)
    (ax,) = drawn
    assert legend_texts(ax) == [str(d) for d in range(10)]
    assert len(drawn_points(ax)) == 359         # the test digits
    assert ax.get_xlabel().startswith(axis)


def _word2vec_text(tmp_path):
    groups = [[f"g{g}w{i}" for i in range(5)] for g in range(4)]
    rng = __import__("numpy").random.default_rng(0)
    lines = [" ".join(rng.choice(groups[rng.integers(4)], 10)) for _ in range(800)]
    path = tmp_path / "corpus.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("binary", ["0", "1"])
def test_word2vec_command_writes_vectors(tmp_path, capsys, binary):
    corpus, out = _word2vec_text(tmp_path), tmp_path / "vectors.txt"
    assert main(["word2vec", "--train", str(corpus), "--output", str(out), "--size", "12",
                 "--window", "3", "--negative", "4", "--cbow", "0", "--threads", "1",
                 "--epochs", "3", "--binary", binary, "--min-count", "2", "--sample", "0"]) == 0
    captured = capsys.readouterr()
    assert "20 words x 12" in captured.out and "skip-gram" in captured.out
    assert "words/s" in captured.err  # the progress line
    kv = fastnn.KeyedVectors.load_word2vec_format(str(out), binary=binary == "1")
    assert kv.vectors.shape == (20, 12)
    top = [k for k, _ in kv.most_similar("g1w0", topn=4)]
    assert sorted(map(str, top)) == ["g1w1", "g1w2", "g1w3", "g1w4"]


def test_word2vec_command_errors(tmp_path, capsys):
    out = tmp_path / "v.txt"
    assert main(["word2vec", "--train", str(tmp_path / "missing.txt"), "--output", str(out)]) == 1
    assert "corpus_file must be an existing file" in capsys.readouterr().err
    corpus = _word2vec_text(tmp_path)
    assert main(["word2vec", "--train", str(corpus), "--output", str(out),
                 "--min-count", "100000", "--quiet"]) == 1
    assert "leaves the vocabulary empty" in capsys.readouterr().err
    assert not out.exists()
    for bad in (["--cbow", "2"], ["--size", "0"], ["--threads", "0"]):
        with pytest.raises(SystemExit) as exc:
            main(["word2vec", "--train", str(corpus), "--output", str(out), *bad])
        assert exc.value.code == 2


def test_bench_word2vec_rows(capsys):
    assert main(["bench", "--quick", "--repeats", "1", "--only", "word2vec CBOW"]) == 0
    out = capsys.readouterr().out
    assert "word2vec CBOW 1 epoch, 100k words, 1 thread (Zipf" in out
    assert "word2vec CBOW 1 epoch, 100k words, 2 threads (Zipf" in out


def test_text_classifier_example_runs(tmp_path, capsys):
    path = pathlib.Path(__file__).resolve().parents[1] / "examples" / "text_classifier.py"
    if not path.exists():
        pytest.skip("examples/ is not next to the tests")
    example = runpy.run_path(str(path))
    docs, keywords = example["generated_corpus"](n_docs=4000, seed=3)
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("".join(" ".join(doc) + "\n" for doc in docs))
    example["main"](["--corpus", str(corpus), "--keywords", ",".join(keywords),
                     "--labelled", "40", "--w2v-epochs", "10", "--epochs", "20"])
    out = capsys.readouterr().out
    scores = {line.split("accuracy, ")[1].rsplit(" ", 1)[0].strip(): float(line.split()[-1])
              for line in out.splitlines() if "test accuracy" in line}
    assert set(scores) == {"random vectors, trained", "word2vec vectors, frozen",
                           "word2vec vectors, fine-tuned"}
    # the planted topics: vectors trained on the whole corpus know the words that the 40
    # labelled documents never show
    assert scores["word2vec vectors, frozen"] > scores["random vectors, trained"] + 0.1
    assert "nearest to 't0w0'" in out


def test_word2vec_command_plots_words_and_neighbours(tmp_path, capsys, drawn):
    corpus, out, png = _word2vec_text(tmp_path), tmp_path / "v.txt", tmp_path / "words.png"
    common = ["word2vec", "--train", str(corpus), "--output", str(out), "--size", "12",
              "--cbow", "0", "--threads", "1", "--epochs", "3", "--min-count", "2",
              "--sample", "0", "--quiet", "--plot", str(png)]
    assert main(common + ["--plot-words", "g0w0,g2w0", "--plot-topn", "4"]) == 0
    assert f"words and neighbours drawn in {png}" in capsys.readouterr().out
    assert png_size(png) == (800, 640)
    ax = drawn.pop()
    assert legend_texts(ax) == ["g0w0", "g2w0"]
    assert sorted(t.get_text() for t in ax.texts) == [f"g{g}w{i}" for g in (0, 2)
                                                       for i in range(5)]
    assert len(drawn_points(ax)) == 10
    assert main(common) == 0                    # six frequent words by default
    ax = drawn.pop()
    assert len(legend_texts(ax)) == 6 and len(drawn_points(ax)) == len(ax.texts) <= 20


def test_word2vec_command_plot_errors(tmp_path, capsys, drawn):
    corpus, out, png = _word2vec_text(tmp_path), tmp_path / "v.txt", tmp_path / "words.png"
    argv = ["word2vec", "--train", str(corpus), "--output", str(out), "--min-count", "2",
            "--epochs", "1", "--quiet", "--plot", str(png)]
    assert main(argv + ["--plot-words", "g0w0,nope"]) == 1
    assert "--plot-words ['nope'] are not in the vocabulary" in capsys.readouterr().err
    assert out.exists() and not png.exists()
    with pytest.raises(SystemExit) as exc:
        main(argv + ["--plot-words", ","])
    assert exc.value.code == 2 and "expected words separated by commas" in capsys.readouterr().err
