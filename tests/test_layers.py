"""The house stays layered: app -> centernet -> kernels, never back; no import cycles, no two-way package pairs.

Reads every `import` and `from ... import` of app/, centernet/ and kernels/ with `ast`, also those inside
functions (where back-edges hide), relative ones resolved. Optional third-party packages may be imported
inside functions (they are not installed everywhere); nothing else may.
"""
from __future__ import annotations

import ast
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ("app", "centernet", "kernels")            # each may import only those after it
MAX_TOP_LEVEL_MODULES = 12
# Optional dependencies: imported where used, so the rest runs without them.
OPTIONAL = {"PyQt6", "cupy", "cupy_backends", "onnxruntime", "onnx", "onnxscript", "openvino", "nncf", "ray",
            "trackeval", "matplotlib"}
# Imported where used for their cost: torchvision (1.5 s) serves only the DCN models' reference kernel, and every
# command started with it loaded (test_torchvision_stays_out_of_a_command_s_start)
DEFERRED = {"torchvision"}
FRONT_END_ONLY = ("argparse", "tqdm")                # the command line's, never the library's
GUI_COMMANDS = ("app.cli.gui", "app.cli.gui_bench")   # start Qt (and app.gui) only when the command runs


@dataclass(frozen=True)
class Import:
    module: str          # the importing project module
    path: Path
    line: int
    name: str            # the imported module (relative imports resolved)
    names: tuple         # what `from name import ...` takes ("" for a plain import)
    in_function: bool

    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_files() -> dict[str, Path]:
    return {module_name(p): p for top in LAYERS for p in sorted((ROOT / top).rglob("*.py"))}


def read_imports(module: str, path: Path) -> list[Import]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import):
                found.extend(Import(module, path, child.lineno, a.name, ("",), in_function) for a in child.names)
            elif isinstance(child, ast.ImportFrom):
                name = child.module or ""
                if child.level:
                    base = package.split(".")[: len(package.split(".")) - (child.level - 1)]
                    name = ".".join(base + ([child.module] if child.module else []))
                found.append(Import(module, path, child.lineno, name, tuple(a.name for a in child.names), in_function))
            visit(child, in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)))

    visit(tree, False)
    return found


def owner(name: str, files: dict) -> str | None:
    """The project module an imported name lives in (the most specific one), or None."""
    parts = name.split(".")
    while parts:
        if ".".join(parts) in files:
            return ".".join(parts)
        parts.pop()
    return None


def targets(imp: Import, files: dict) -> set[str]:
    """Project modules an import reaches: `from pkg import mod` reaches pkg.mod, `from pkg import name` pkg."""
    out = set()
    for n in imp.names:
        o = owner(f"{imp.name}.{n}" if n else imp.name, files)
        if o is not None and o != imp.module:
            out.add(o)
    return out


@pytest.fixture(scope="module")
def graph():
    files = project_files()
    imports = [imp for mod, path in files.items() for imp in read_imports(mod, path)]
    return files, imports


def layer(module: str) -> int:
    return LAYERS.index(module.split(".")[0])


def offenders(lines: list[str]) -> str:
    return "\n  " + "\n  ".join(sorted(set(lines)))


def test_no_upward_import(graph):
    files, imports = graph
    bad = [f"{imp.where()} {imp.module} imports {t}" for imp in imports for t in targets(imp, files)
           if layer(t) < layer(imp.module)]
    assert not bad, "imports against the layers (app -> centernet -> kernels):" + offenders(bad)


def strongly_connected(edges: dict[str, set]) -> list[list[str]]:
    """Tarjan's components of more than one module, iteratively (no recursion limit)."""
    index, low, on, stack, comps, counter = {}, {}, set(), [], [], 0
    for start in edges:
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on.add(start)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(edges.get(w, ())))))
                elif w in on:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    comps.append(sorted(comp))
    return comps


def test_relative_imports_resolve_and_imports_inside_functions_are_seen(tmp_path):
    init = tmp_path / "__init__.py"
    init.write_text("from . import a\nfrom ..b import c\n\n\ndef f():\n    import app.cli\n")
    read = [(i.name, i.names, i.in_function) for i in read_imports("centernet.jobs", init)]
    assert read == [("centernet.jobs", ("a",), False), ("centernet.b", ("c",), False), ("app.cli", ("",), True)]


def test_strongly_connected_finds_a_cycle_and_nothing_else():
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert strongly_connected(edges) == [["a", "b", "c"]]


def module_edges(files: dict, imports: list) -> tuple[dict[str, set], dict[tuple, str]]:
    """Module -> the project modules it imports, and where each such import is written (the first one)."""
    edges: dict[str, set] = {m: set() for m in files}
    where: dict[tuple, str] = {}
    for imp in imports:
        for t in targets(imp, files):
            edges[imp.module].add(t)
            where.setdefault((imp.module, t), imp.where())
    return edges, where


def test_no_import_cycle(graph):
    edges, where = module_edges(*graph)
    cycles = strongly_connected(edges)
    lines = []
    for comp in cycles:
        inside = [f"{a} -> {b} ({where[a, b]})" for a in comp for b in sorted(edges[a]) if b in comp]
        lines.append(f"cycle of {len(comp)} modules: " + "; ".join(inside))
    assert not lines, "import cycles between project files:" + offenders(lines)


def siblings(a: str, b: str) -> tuple[str, str] | None:
    """The rooms two modules live in below their common package (`centernet.io.x`, `centernet.models.y`:
    `centernet.io`, `centernet.models`), or None when one contains the other."""
    pa, pb = a.split("."), b.split(".")
    i = next((i for i, (x, y) in enumerate(zip(pa, pb)) if x != y), min(len(pa), len(pb)))
    if i >= len(pa) or i >= len(pb):
        return None
    return ".".join(pa[:i + 1]), ".".join(pb[:i + 1])


def two_way_pairs(module_edges: dict[str, set]) -> dict[tuple, list]:
    """Sibling rooms (packages or modules) that import each other: {(a, b): [(from, to) module edges]}."""
    room_edges: dict[tuple, list] = {}
    for a, targets_ in module_edges.items():
        for b in targets_:
            pair = siblings(a, b)
            if pair is not None:
                room_edges.setdefault(pair, []).append((a, b))
    return {(a, b): room_edges[a, b] + room_edges[b, a] for a, b in room_edges if a < b and (b, a) in room_edges}


def test_two_way_pairs_finds_packages_that_import_each_other_and_nothing_else():
    edges = {"c.io.render": {"c.inference.transforms"}, "c.inference.detector": {"c.io.sources", "c.errors"},
             "c.inference.backends.onnx": {"c.inference.transforms"}, "c.inference.transforms": {"c.errors"},
             "c.jobs.a.run": {"c.jobs.b"}, "c.jobs.b": {"c.io.render"}}
    assert two_way_pairs(edges) == {("c.inference", "c.io"): [("c.inference.detector", "c.io.sources"),
                                                              ("c.io.render", "c.inference.transforms")]}


def test_no_two_way_package_pair(graph):
    """No room imports one that imports it back, even without a cycle between files (`centernet.io` using
    `centernet.inference` while `inference` uses `io`): the rooms would no longer stack."""
    edges, where = module_edges(*graph)
    lines = [f"{a} <-> {b}: " + "; ".join(f"{x} -> {y} ({where[x, y]})" for x, y in sorted(used))
             for (a, b), used in sorted(two_way_pairs(edges).items())]
    assert not lines, "packages that import each other (move what both need below them):" + offenders(lines)


def test_no_terminal_work_in_the_library(graph):
    """Parsing the command line and drawing progress bars are the front end's: the library takes typed
    arguments and reports progress through callbacks (centernet/progress.py)."""
    _, imports = graph
    bad = [f"{imp.where()} {imp.module} imports {imp.name}" for imp in imports
           if imp.module.startswith("centernet") and imp.name.split(".")[0] in FRONT_END_ONLY]
    assert not bad, "argparse or tqdm under centernet/ (they belong in app/cli/):" + offenders(bad)


def test_the_library_top_level_stays_small():
    top = sorted(p.name for p in (ROOT / "centernet").glob("*.py") if p.name != "__init__.py")
    assert len(top) <= MAX_TOP_LEVEL_MODULES, \
        f"{len(top)} modules at centernet/'s top level (at most {MAX_TOP_LEVEL_MODULES}): " \
        f"move some into a subpackage:" + offenders(top)


def allowed_inside_a_function(imp: Import, files: dict) -> bool:
    top = imp.name.split(".")[0]
    if top in OPTIONAL or top in DEFERRED:
        return True
    if imp.module in GUI_COMMANDS and (imp.name == "app.gui" or imp.name.startswith("app.gui.")):
        return True
    if owner(imp.name, files) is not None or top in LAYERS:
        return False                                  # project modules: import at the top
    return top in sys.stdlib_module_names or top == "__future__"


def test_imports_inside_functions_are_only_optional_dependencies(graph):
    files, imports = graph
    inside = [imp for imp in imports if imp.in_function and not allowed_inside_a_function(imp, files)]
    bad = [f"{imp.where()} {imp.name}" for imp in inside]
    assert not bad, ("imports inside functions (move them to the top of the file; only optional packages "
                     f"{', '.join(sorted(OPTIONAL))} and the costly {', '.join(sorted(DEFERRED))} may be imported "
                     "where used):" + offenders(bad))


def test_torchvision_stays_out_of_a_command_s_start():
    probe = ("import sys; from app.cli.main import build_parser; build_parser(); "
             "print(sorted(m for m in sys.modules if m.split('.')[0] == 'torchvision'))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
