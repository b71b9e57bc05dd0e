"""The package's folders form layers: each imports only folders below it (no upward import, no
cycle), every folder says in its __init__ what lives there, and no module grows past 250 lines."""

import ast

from conftest import ROOT

PKG = ROOT / "src" / "sparserobust"
# bottom to top; a folder may import the folders listed before it, never one after it
LAYERS = ["foundations", "data", "models", "lottery", "training", "sparse", "segmentation", "analysis", "pipeline",
          "performance"]


def imported_folders(path):
    """The package folders a module imports (relative or absolute imports, lazy ones included)."""
    folder = path.parent.name
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level == 1:
                found.add(folder)
            elif node.level == 2:
                found.add(module.split(".")[0] if module else "")
            elif module.startswith("sparserobust"):
                found.add(module.split(".")[1] if "." in module else "")
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[1] for a in node.names if a.name.startswith("sparserobust.")}
    return found


def test_folders_import_only_the_layers_below_them():
    assert sorted(p.name for p in PKG.iterdir() if (p / "__init__.py").exists()) == sorted(LAYERS)
    upward = []
    for folder in LAYERS:
        allowed = set(LAYERS[: LAYERS.index(folder) + 1])
        for path in sorted((PKG / folder).glob("*.py")):
            bad = sorted(b or "the package root" for b in imported_folders(path) - allowed)
            if bad:
                upward.append(f"{path.relative_to(PKG)} imports {', '.join(bad)}")
    assert not upward, upward


def test_the_layer_check_sees_an_upward_import(tmp_path):
    probe = tmp_path / "data" / "probe.py"
    probe.parent.mkdir()
    probe.write_text("def f():\n    from ..pipeline import config\n    from . import arrays\n"
                     "from sparserobust.training import engine\n")
    assert imported_folders(probe) == {"pipeline", "data", "training"}


def test_every_folder_says_what_it_holds_and_modules_stay_small():
    for folder in LAYERS:
        doc = ast.get_docstring(ast.parse((PKG / folder / "__init__.py").read_text()))
        assert doc and "import" in doc.lower() and len(doc.splitlines()) <= 2, folder
    sizes = {str(p.relative_to(PKG)): len(p.read_text().splitlines()) for p in PKG.rglob("*.py")}
    assert max(sizes.values()) <= 250, {k: v for k, v in sizes.items() if v > 250}
    assert sum(sizes.values()) / len(sizes) < 120
