"""Every example in the package's docstrings runs and prints what it says (as ``--doctest-modules`` would)."""
import doctest
import importlib
import pkgutil

import pytest

import gpusiibra

MODULES = sorted(m.name for m in pkgutil.walk_packages(gpusiibra.__path__, "gpusiibra."))


def _examples(name) -> int:
    return sum(len(t.examples) for t in doctest.DocTestFinder().find(importlib.import_module(name)))


#: the modules with examples (a module without any is not "passed": it is listed below, or the test fails)
WITH_EXAMPLES = [m for m in MODULES if _examples(m)]

#: public modules that have no docstring example yet (their functions are shown in the README instead); a
#: module that gains examples leaves this list, one that loses them fails test_public_modules_have_examples
NO_EXAMPLES_YET = {"gpusiibra.cli", "gpusiibra.data", "gpusiibra.dataset", "gpusiibra.demo", "gpusiibra.io",
                   "gpusiibra.io.coordinates", "gpusiibra.io.formats", "gpusiibra.io.labels", "gpusiibra.io.native",
                   "gpusiibra.io.nifti", "gpusiibra.io.paqd", "gpusiibra.io.siibra_v1", "gpusiibra.points",
                   "gpusiibra.sparse", "gpusiibra.volumes"}


@pytest.mark.parametrize("name", WITH_EXAMPLES)
def test_the_docstring_examples_run(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.attempted > 0, f"{name} has no example to run"
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples of {name} failed"


def test_public_modules_have_examples():
    public = {m for m in MODULES if not any(part.startswith("_") for part in m.split("."))}
    assert public - set(WITH_EXAMPLES) == NO_EXAMPLES_YET


def test_the_public_functions_have_examples():
    """The front door's functions that users call first carry a runnable example."""
    from gpusiibra import batch, maps, tables
    from gpusiibra.report import study_report

    for fn in (maps.SparseMap.assign_batch, batch.assign_batch, tables.label_points, study_report):
        assert ">>> " in (fn.__doc__ or ""), fn.__qualname__
