"""The package list in pyproject.toml covers every package folder, and kernels/ installs
as dprog.kernels (the name `kernels` is taken on the package index)."""
import os
import re
import tomllib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _declared():
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        data = tomllib.load(f)
    return data["tool"]["setuptools"]["packages"], data["tool"]["setuptools"]["package-dir"]


def test_every_package_folder_is_declared():
    packages, _ = _declared()
    found = []
    for dirpath, dirnames, filenames in os.walk(os.path.join(ROOT, "dprog")):
        dirnames[:] = [d for d in dirnames if d != "__pycache__"]
        if "__init__.py" in filenames:
            rel = os.path.relpath(dirpath, ROOT)
            found.append(re.sub(r"[/\\]", ".", rel))
    assert sorted(set(found) - set(packages)) == []


def test_kernels_installs_inside_dprog():
    packages, package_dir = _declared()
    assert "kernels" not in packages
    assert package_dir["dprog.kernels"] == "kernels"
    import dprog.kernels
    assert os.path.samefile(os.path.dirname(dprog.kernels.__file__), os.path.join(ROOT, "kernels"))
