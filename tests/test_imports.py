"""The package's layering: no import cycles, counting imports inside functions too (docs/architecture.md)."""
import ast
import os

import gpusiibra

PACKAGE = os.path.dirname(gpusiibra.__file__)


def _modules():
    mods = {}
    for folder, _, files in os.walk(PACKAGE):
        for f in files:
            if f.endswith(".py"):
                path = os.path.join(folder, f)
                name = "gpusiibra." + os.path.relpath(path, PACKAGE)[:-3].replace(os.sep, ".")
                mods[name[: -len(".__init__")] if name.endswith(".__init__") else name] = path
    return mods


def _graph():
    mods = _modules()
    graph = {}
    for mod, path in mods.items():
        package = mod if path.endswith("__init__.py") else mod.rsplit(".", 1)[0]
        deps = set()
        for node in ast.walk(ast.parse(open(path).read())):
            if isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    root = package
                    for _ in range(node.level - 1):
                        root = root.rsplit(".", 1)[0]
                    base = root + ("." + node.module if node.module else "")
                deps.update(t for t in [base] + [f"{base}.{a.name}" for a in node.names] if t in mods)
            elif isinstance(node, ast.Import):
                deps.update(a.name for a in node.names if a.name in mods)
        deps.discard(mod)
        deps.discard("gpusiibra")  # the package's lazy front door is above everything
        graph[mod] = deps
    return graph


def test_no_import_cycles_even_inside_functions():
    graph = _graph()
    state, cycles, stack = {}, [], []

    def visit(u):
        state[u] = "open"
        stack.append(u)
        for v in sorted(graph[u]):
            if state.get(v) == "open":
                cycles.append(" -> ".join(stack[stack.index(v):] + [v]))
            elif v not in state:
                visit(v)
        stack.pop()
        state[u] = "done"

    for u in sorted(graph):
        if u != "gpusiibra" and u not in state:
            visit(u)
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_the_engine_does_not_reach_up():
    """The engine and its kernels import nothing from the API above them."""
    graph = _graph()
    above = {"gpusiibra.maps", "gpusiibra.batch", "gpusiibra.cli", "gpusiibra.demo", "gpusiibra.report",
             "gpusiibra.dataset"}
    for low in ("gpusiibra._engine", "gpusiibra._kernels", "gpusiibra._resample", "gpusiibra._statistics",
                "gpusiibra.backend", "gpusiibra.errors", "gpusiibra._readers", "gpusiibra._itk", "gpusiibra._warp",
                "gpusiibra._templateflow"):
        assert not graph[low] & above, f"{low} imports {graph[low] & above}"


def test_the_features_layer():
    """siibra's features sit above the study's reading and below the page: report -> features -> _siibra_features,
    _study; the engine of the features and the dataset reader never import the page, the CLI or the features."""
    graph = _graph()
    assert "gpusiibra.features" in graph["gpusiibra.report"] and "gpusiibra._study" in graph["gpusiibra.features"]
    for low in ("gpusiibra._siibra_features", "gpusiibra._siibra_net", "gpusiibra._study"):
        assert not graph[low] & {"gpusiibra.report", "gpusiibra.cli", "gpusiibra.features", "gpusiibra.demo"}, low
