"""The package graph of app/: imports point one way, and no module imports itself back through others.

api and ops → usage, identity → store → base. An import inside a function counts like any other: one deferred
to dodge a cycle is still a cycle. Read with the ast module, from the files, so nothing is imported to check it.
"""
import ast
import os
import re

APP = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "app")
# Each package of app/ and the packages it may import (besides itself).
MAY_IMPORT = {
    "base": set(),
    "store": {"base"},
    "usage": {"store", "base"},
    "identity": {"store", "base"},
    "api": {"usage", "identity", "store", "base"},
    "ops": {"api", "usage", "identity", "store", "base", "app"},  # app: the factory, which `make run` serves
}


def modules(root, package):
    """{dotted module name: path} of every module under `root`, named as if `root` were `package`."""
    found = {}
    for directory, _, files in os.walk(root):
        for file in files:
            if file.endswith(".py"):
                relative = os.path.relpath(os.path.join(directory, file), root)[:-3].split(os.sep)
                if relative[-1] == "__init__":
                    relative = relative[:-1]
                found[".".join([package, *relative])] = os.path.join(directory, file)
    return found


def imports(name, path, known):
    """The modules of `known` that the module `name` (at `path`) imports, anywhere in it."""
    is_package = path.endswith("__init__.py")
    with open(path) as file:
        tree = ast.parse(file.read(), path)
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".")[: len(name.split(".")) - node.level + (1 if is_package else 0)]
                stem = ".".join(base + ([node.module] if node.module else []))
            else:
                stem = node.module
            # `from . import x` may name a module x, or a name in the package.
            targets = [f"{stem}.{alias.name}" if f"{stem}.{alias.name}" in known else stem for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:  # `import a.b.c` where only a.b is a module of ours
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def graph(root, package):
    known = modules(root, package)
    return {name: imports(name, path, known) for name, path in known.items()}


def cycles(edges):
    """Every import cycle, each as the list of modules around it (Tarjan's strongly connected components)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(edges.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def layer_of(module):
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "app"  # app/__init__.py: the factory, which wires everything


def against_the_layers(edges):
    """(importer, imported) pairs that import across the allowed direction."""
    wrong = []
    for importer, targets in sorted(edges.items()):
        own = layer_of(importer)
        if own == "app":
            continue
        for target in sorted(targets):
            other = layer_of(target)
            if other != own and other not in MAY_IMPORT[own]:
                wrong.append((importer, target))
    return wrong


def test_app_is_only_packages_of_known_layers():
    entries = sorted(entry for entry in os.listdir(APP) if entry != "__pycache__")
    assert entries == sorted(["__init__.py", *MAY_IMPORT]), entries


def test_every_package_says_what_it_owns():
    for directory, _, files in os.walk(APP):
        if "__init__.py" in files and directory != APP:
            with open(os.path.join(directory, "__init__.py")) as file:
                docstring = ast.get_docstring(ast.parse(file.read()))
            assert docstring, f"{directory}/__init__.py has no docstring saying what the package owns"


def test_the_readme_says_where_things_are():
    """Its "Where things are" names every package of app/, and every path it names exists."""
    with open(os.path.join(os.path.dirname(APP), "README.rst")) as file:
        readme = file.read()
    section = readme.split("Where things are\n", 1)[1].split("\n---", 1)[0]
    for package in MAY_IMPORT:
        assert f"``app/{package}/``" in section, package
    for path in re.findall(r"``((?:app|tests|api|store|usage|identity|ops|base)/[\w/.]*)``", readme):
        full = path if path.startswith(("app/", "tests/")) else f"app/{path}"
        assert os.path.exists(os.path.join(os.path.dirname(APP), full)), path


def test_no_import_cycle():
    assert cycles(graph(APP, "app")) == []


def test_imports_point_one_way():
    assert against_the_layers(graph(APP, "app")) == []


def write(root, files):
    for path, text in files.items():
        os.makedirs(os.path.dirname(os.path.join(root, path)), exist_ok=True)
        with open(os.path.join(root, path), "w") as file:
            file.write(text)


def test_the_checks_find_a_cycle_and_an_import_against_the_layers(tmp_path):
    write(tmp_path, {
        "__init__.py": "",
        "base/__init__.py": '"""b"""',
        "base/config.py": "",
        "store/__init__.py": '"""s"""',
        "store/writes.py": "from . import cursor\n",
        "store/cursor.py": "def later():\n    from .writes import x  # deferred, and still a cycle\n",
        "store/pages.py": "from ..api import responses\n",
        "api/__init__.py": '"""a"""',
        "api/responses.py": "from ..base import config\nfrom app.store import pages\n",
    })
    edges = graph(str(tmp_path), "app")
    assert cycles(edges) == [["app.api.responses", "app.store.pages"], ["app.store.cursor", "app.store.writes"]]
    assert against_the_layers(edges) == [("app.store.pages", "app.api.responses")]
