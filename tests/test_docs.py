"""Every example in the package's docstrings runs and prints what it says (as ``--doctest-modules`` would)."""
import doctest
import importlib
import pkgutil

import pytest

import gpusiibra

MODULES = sorted(m.name for m in pkgutil.walk_packages(gpusiibra.__path__, "gpusiibra."))


@pytest.mark.parametrize("name", MODULES)
def test_the_docstring_examples_run(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples of {name} failed"


def test_the_public_functions_have_examples():
    """The front door's functions that users call first carry a runnable example."""
    from gpusiibra import batch, maps, tables
    from gpusiibra.report import study_report

    for fn in (maps.SparseMap.assign_batch, batch.assign_batch, tables.label_points, study_report):
        assert ">>> " in (fn.__doc__ or ""), fn.__qualname__
