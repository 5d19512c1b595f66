"""The command line as a new user meets it: one clean line per error or warning, never a traceback for a
user's mistake, a version, help for every option."""
import os
import subprocess
import sys

import nibabel as nib
import numpy as np
import pyarrow as pa
import pytest

import gpusiibra
from golden_cases import motor_t4
from gpusiibra.cli import main as cli

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_version(capsys):
    with pytest.raises(SystemExit) as e:
        cli(["--version"])
    assert e.value.code == 0 and capsys.readouterr().out.strip() == f"gpusiibra {gpusiibra.__version__}"


def test_every_option_has_help():
    import argparse

    from gpusiibra.cli import _parser

    def subcommands(parser):
        sub = next((a for a in parser._actions if isinstance(a, argparse._SubParsersAction)), None)
        return {} if sub is None else sub.choices

    assert set(subcommands(_parser())) == {"assign", "points", "atlas", "demo", "example", "report", "compare",
                                               "features", "clusters", "warp"}
    assert set(subcommands(subcommands(_parser())["atlas"])) == {"list", "info", "fetch", "save"}
    todo = [("gpusiibra " + name, p) for name, p in subcommands(_parser()).items()]
    while todo:
        name, parser = todo.pop()
        todo += [(f"{name} {n}", p) for n, p in subcommands(parser).items()]
        for action in parser._actions:
            if not isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
                assert action.help, f"{name} {'/'.join(action.option_strings) or action.dest}: no help"


def test_warnings_are_one_clean_line(tmp_path, capsys):
    img = motor_t4()
    far = img.affine.copy()
    far[:3, 3] += 1e4
    nib.Nifti1Image(np.asarray(img.dataobj), far).to_filename(tmp_path / "far.nii.gz")
    assert cli(["points", str(_table(tmp_path, "x,y,z\n500,0,0\n-40,-20,55\n"))]) == 0
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines == ["warning: 1 point(s) lie outside the atlas grid and get no assignment (first: (500, 0, 0) mm)"]


def _table(folder, text):
    p = folder / "t.csv"
    p.write_text(text)
    return p


def test_user_mistakes_are_one_line_with_a_nonzero_exit(tmp_path, capsys):
    cases = [
        (["assign", str(tmp_path / "missing.nii.gz"), "--out", str(tmp_path / "o.parquet")], 1, "no such file"),
        (["points", str(tmp_path / "missing.csv")], 2, "missing.csv: no such file"),
        (["atlas", "info", "nonexist.zip"], 2, "nonexist.zip: no such file"),
        (["atlas", "info", "harvard"], 2, "no atlas named 'harvard'"),
        (["atlas", "fetch", "harvard"], 2, "no official atlas named 'harvard'"),
        (["assign", "example:motor", "--atlas", "julich 3", "--out", str(tmp_path / "o.parquet")], 2,
         "did you mean 'julich-3.1'"),
        (["assign", "example:motor", "--out", str(tmp_path / "no" / "o.parquet")], 2, "does not exist"),
    ]
    for args, code, text in cases:
        assert cli(args) == code, args
        err = capsys.readouterr().err
        assert text in err and "Traceback" not in err, (args, err)


@pytest.mark.slow
def test_an_unreachable_scheduler_is_one_line_and_leaves_no_dataset(tmp_path):
    pytest.importorskip("dask.distributed")
    env = dict(os.environ, PYTHONPATH=ROOT, GPUSIIBRA_BACKEND="cpu")
    out = tmp_path / "o.parquet"
    r = subprocess.run([sys.executable, "-m", "gpusiibra.cli", "assign", "example:motor", "--out",
                        str(out), "--scheduler", "tcp://127.0.0.1:9"],
                       capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 2 and "cannot reach the dask scheduler at tcp://127.0.0.1:9" in r.stderr
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert "assigning" not in r.stderr  # refused before the progress bar started
    assert not out.exists()


def test_the_summary_tells_maps_signs_and_component_sizes(tmp_path, capsys):
    assert cli(["assign", "example:motor", "--threshold", "3", "--two-sided", "--out", str(tmp_path / "o.parquet"),
                "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "1 input file, 1 volume x 2 signs: 2 maps assigned" in out
    header = next(line for line in out.splitlines() if line.strip().startswith("input"))
    assert header.split()[:5] == ["input", "sign", "component", "component", "voxels"]


def test_atlas_info_lists_regions_first_and_sources_on_request(capsys):
    assert cli(["atlas", "info", "julich-3.1", "--regions"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "    0  Area 45 (IFG) left" and len(lines) == 414
    assert cli(["atlas", "info", "julich-3.1"]) == 0
    out = capsys.readouterr().out
    n = out.count("http")  # the source repository and the three index files, not 414 maps
    assert "--sources` lists them" in out and n < 10
    assert cli(["atlas", "info", "julich-3.1", "--sources"]) == 0
    assert capsys.readouterr().out.count("http") == n + 414


def test_help_shows_every_default():
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), pytest.raises(SystemExit):
        cli(["assign", "--help"])
    text = " ".join(buf.getvalue().split())
    for option, default in (("--threshold", "default: none"), ("--lower-threshold", "default: 0"),
                            ("--minsize", "default: 1"), ("--mindist", "default: 5")):
        after = text[text.rindex(option + " " + option.lstrip("-").upper().replace("-", "_")):]
        assert default in after[:160], option


def test_component_sizes_print_as_integers_and_report_out_stays_beside_the_dataset(tmp_path, capsys):
    out = tmp_path / "o.parquet"
    assert cli(["assign", "example:motor", "--threshold", "3", "--peaks", "--out", str(out), "--quiet"]) == 0
    table = capsys.readouterr().out.split("highest correlations")[1].splitlines()[2:]
    assert all("." not in line.split()[2] for line in table)  # component voxels: 35061, not 35061.0
    assert cli(["report", str(out), "--out", str(out / "study.html")]) == 2
    assert "inside the dataset folder" in capsys.readouterr().err
    assert cli(["report", str(out), "--out", str(tmp_path)]) == 2
    assert "is a folder" in capsys.readouterr().err
    assert [f for f in os.listdir(out) if f.endswith(".tmp")] == []


def _top_with_pandas(out):
    """The summary table as the command printed it with pandas (before it read the dataset with pyarrow alone)."""
    import pandas as pd

    df = pd.read_parquet(out, columns=["input", "atlas", "frame", "sign", "kind", "voxels", "input structure",
                                       "region", "correlation", "map value"])
    df = df[df["kind"] == "component"]
    if df["atlas"].nunique() == 1:
        df = df.drop(columns="atlas")
    top = df.sort_values("correlation", ascending=False, na_position="last", kind="stable").head(10)
    top = top.assign(input=top["input"].map(os.path.basename)).drop(columns="kind")
    if top["frame"].max() == 0:
        top = top.drop(columns="frame")
    if (top["sign"] == "+").all():
        top = top.drop(columns="sign")
    top = top.assign(voxels=top["voxels"].astype("Int64"))
    top = top.rename(columns={"input structure": "component", "voxels": "component voxels"})
    return top[[c for c in ("input", "atlas", "frame", "sign", "component", "component voxels", "region",
                            "correlation", "map value") if c in top]].to_string(index=False)


@pytest.mark.parametrize("extra", [["--threshold", "3", "--peaks"], ["--threshold", "2", "--two-sided"]])
def test_the_summary_of_the_highest_correlations_is_pandas_table_without_pandas(tmp_path, capsys, extra):
    """The summary after `gpusiibra assign --out` is read with pyarrow alone (a one-map command imports no
    pandas) and prints what pandas' to_string printed: one map with peak rows; a 4D file of two frames,
    two-sided (frame and sign columns, negative correlations)."""
    from gpusiibra.cli import _top_correlations

    d = np.asarray(motor_t4().dataobj)
    img = nib.Nifti1Image(np.stack([d, -0.7 * d], axis=3), motor_t4().affine)
    nib.save(img, tmp_path / "two.nii.gz")
    out = tmp_path / "o.parquet"
    inputs = ["example:motor"] if "--peaks" in extra else [str(tmp_path / "two.nii.gz")]
    assert cli(["assign", *inputs, *extra, "--out", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out.split("highest correlations (component voxels: its size on the atlas grid):\n")[1]
    assert printed.rstrip("\n") == _top_correlations(out) == _top_with_pandas(out)
    if "--two-sided" in extra:
        assert " frame " in printed and " sign " in printed


def test_the_summary_of_correlations_that_are_all_nan_is_printed(tmp_path):
    """Rows whose correlations are all NaN (no correlation: siibra's NaN) are printed as pandas prints them (the
    summary looped forever trimming the zeros of NaNs)."""
    import threading

    import pyarrow.parquet as pq

    from gpusiibra.cli import _top_correlations

    out = tmp_path / "o.parquet"
    assert cli(["assign", "example:motor", "--threshold", "3", "--out", str(out), "--quiet"]) == 0
    for part in out.glob("part-*.parquet"):
        t = pq.read_table(part)
        i = t.column_names.index("correlation")
        pq.write_table(t.set_column(i, "correlation", pa.array(np.full(t.num_rows, np.nan))), part)
    got = []
    worker = threading.Thread(target=lambda: got.append(_top_correlations(out)), daemon=True)
    worker.start()
    worker.join(60)
    assert got, "the summary did not end"
    assert got[0] == _top_with_pandas(out) and " NaN " in got[0]


def test_the_command_exits_quickly_with_its_output_flushed_and_its_dataset_whole(tmp_path):
    """`python -m gpusiibra.cli` (as the `gpusiibra` script) leaves by os._exit after main: its exit status, every
    line it printed into a pipe (the summary's ten rows), and a dataset that reads back with every row."""
    import pandas as pd

    env = dict(os.environ, PYTHONPATH=ROOT, GPUSIIBRA_BACKEND="cpu")
    out = tmp_path / "o.parquet"
    r = subprocess.run([sys.executable, "-m", "gpusiibra.cli", "assign", "example:motor", "--threshold", "3",
                        "--out", str(out), "--quiet"], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.endswith("\n") and len(r.stdout.split("highest correlations")[1].strip().splitlines()) == 12
    assert len(pd.read_parquet(out)) == int(r.stdout.split(" rows,")[0].split()[-1])
    bad = subprocess.run([sys.executable, "-m", "gpusiibra.cli", "assign", "example:motor", "--threshold", "x"],
                         capture_output=True, text=True, env=env, timeout=120)
    assert bad.returncode == 2 and "expected a number" in bad.stderr  # argparse's own exit, as before
