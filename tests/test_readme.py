"""Every example in README.md runs as written, in a fresh folder (install and test commands, and the example
that needs the reader's own dask scheduler, are left out); the Python blocks run twice. Official atlases
come from a web server of the test's own on 127.0.0.1, through GPUSIIBRA_ATLAS_MIRROR."""
import os
import re
import subprocess
import sys

import pytest

import gpusiibra

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = os.path.join(ROOT, "README.md")

# lines that cannot run here: installs, the test command itself, a scheduler address the reader supplies
_SKIP = (re.compile(r"^(pip|conda|python -m pytest)\b"), re.compile(r"tcp://host:"))


def _blocks(lang):
    text = open(README, encoding="utf-8").read()
    return re.findall(rf"```{lang}\n(.*?)```", text, flags=re.S)


def _shell_blocks():
    """The runnable lines of each ```bash block (blocks left empty dropped)."""
    out = []
    for block in _blocks("bash"):
        lines = []
        for line in block.splitlines():
            line = line.strip()
            if line.startswith("pip install") and "&&" in line:
                line = line.split("&&", 1)[1].strip()  # "pip install . && gpusiibra ..." : the command itself
            if line and not any(p.search(line) for p in _SKIP):
                lines.append(line)
        if lines:
            out.append(lines)
    return out


def _shell_lines():
    return [line for block in _shell_blocks() for line in block]


def _files(lines) -> set:
    """The files and folders a block's commands name (its comments left out): what ties it to another block."""
    names = set()
    for line in lines:
        command = re.split(r"\s#", line, maxsplit=1)[0]
        names.update(m.rstrip("/") for m in re.findall(r"[\w*-]+(?:\.[A-Za-z]\w*)+|[\w-]+/", command))
    return names


def _after(blocks) -> list:
    """For each block, the earlier blocks it must wait for: those naming a file it names."""
    files = [_files(b) for b in blocks]
    return [{i for i in range(j) if files[i] & files[j]} for j in range(len(blocks))]


@pytest.fixture
def atlas_mirror(tmp_path_factory, monkeypatch):
    """The official atlas examples download from a server of our own on 127.0.0.1 (the mirror setting), which
    serves the test atlas at julich-3.1's paths, into a fresh cache; siibra's features come from the tests' local
    siibra configuration, its data on the same server."""
    from atlas_server import AtlasServer, serve_julich
    from siibra_config import siibra_cache, write_configuration

    server = AtlasServer()
    serve_julich(server)
    monkeypatch.setenv("GPUSIIBRA_ATLAS_MIRROR", server.url)
    monkeypatch.setenv("GPUSIIBRA_CACHE", str(tmp_path_factory.mktemp("cache")))
    monkeypatch.setenv("GPUSIIBRA_CHECK_REGIONS", "0")  # the test mirror serves the index alone, no region maps
    monkeypatch.setenv("GPUSIIBRA_SIIBRA_CONFIGURATION",
                       write_configuration(str(tmp_path_factory.mktemp("siibra-conf")), server))
    from made_transforms import write_templateflow_home

    monkeypatch.setenv("TEMPLATEFLOW_HOME", str(write_templateflow_home(tmp_path_factory.mktemp("templateflow"))))
    from gpusiibra import spaces

    spaces.transform_chain.cache_clear()  # the transforms of this TEMPLATEFLOW_HOME, not another test's
    spaces.pull_transform.cache_clear()
    with siibra_cache(str(tmp_path_factory.mktemp("siibra-cache"))):
        yield server
    server.stop()


def _env():
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.setdefault("GPUSIIBRA_BACKEND", "cpu")
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    return env


def test_readme_has_examples():
    assert len(_shell_lines()) >= 10 and len(_blocks("python")) >= 2


def test_blocks_wait_for_the_blocks_that_make_their_files():
    blocks = _shell_blocks()
    after = _after(blocks)
    first = {name: next(i for i, b in enumerate(blocks) if any(name in line for line in b))
             for name in ("study/", "results.parquet", "peaks.csv")}
    for j, b in enumerate(blocks):
        for name, i in first.items():
            if i < j and any(re.split(r"\s#", line)[0].count(name) for line in b):
                assert i in after[j], (name, b[0])


def _run_block(lines, cwd):
    for line in lines:
        r = subprocess.run(line, shell=True, cwd=cwd, env=_env(), capture_output=True, text=True,
                           executable="/bin/bash")
        assert r.returncode == 0, f"README example failed: {line}\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}"
        assert "Traceback" not in r.stderr, line


@pytest.mark.slow
def test_every_shell_example_runs(tmp_path, atlas_mirror):
    """Each block's lines in order, in one folder; blocks that name none of each other's files at once, two at a
    time (each command is mostly one core's imports and figures: the test takes the longest chain, not the sum)."""
    from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

    if subprocess.run(["gpusiibra", "--version"], capture_output=True, env=_env()).returncode:
        pytest.skip("the gpusiibra command is not installed (pip install .)")
    blocks = _shell_blocks()
    after, done, running = _after(blocks), set(), {}
    with ThreadPoolExecutor(2) as pool:
        while len(done) < len(blocks):
            for j in range(len(blocks)):
                if j not in done and j not in running.values() and after[j] <= done:
                    running[pool.submit(_run_block, blocks[j], tmp_path)] = j
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for f in finished:
                f.result()  # a failed example fails the test, with its output
                done.add(running.pop(f))


@pytest.mark.slow
@pytest.mark.parametrize("index", range(len(_blocks("python"))))
def test_every_python_example_runs(tmp_path, monkeypatch, atlas_mirror, index):
    """Literally as written (on a machine without a GPU too), and twice in the same folder: a reader runs a
    notebook's cell again."""
    code = _blocks("python")[index]
    monkeypatch.chdir(tmp_path)
    try:
        for _ in range(2):
            exec(compile(code, f"README.md python example {index + 1}", "exec"), {"__name__": "__readme__"})
    finally:
        gpusiibra.set_backend("cpu")


def test_the_differences_from_siibra_are_exactly_five_each_with_its_test():
    import re

    text = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    section = text[text.index("## Differences from siibra"):text.index("Where siibra has no answer")]
    items = re.findall(r"^(\d)\. ", section, flags=re.M)
    assert items == ["1", "2", "3", "4", "5"]
    for path, name in re.findall(r"`(tests/\w+\.py)::(\w+)`", section):
        assert re.search(rf"^def {name}\(", open(os.path.join(ROOT, path)).read(), flags=re.M), name
