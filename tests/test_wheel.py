"""The built wheel is the whole portal: installed (not editable) into a fresh virtual environment and
started from another folder, it serves the same site as the checkout, demo, guide pages and import
samples included, and lists all of its commands."""

import ast
import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from pathlib import Path

import pytest

from portal import create_app

from .conftest import NOW
from .test_serving import free_port, get, wait_for

ROOT = Path(__file__).resolve().parent.parent
PORTAL_FILES = sorted((ROOT / "portal").rglob("*.py"))
TEST_FILES = sorted(p for p in (ROOT / "tests").rglob("*.py") if "node_modules" not in p.parts)
COMMANDS = ("init-db", "load-demo", "import", "create-user", "serve", "indexer", "reindex", "backup", "restore",
            "export-static", "verify-log")
PAGES = ("/", "/pages/faq", "/pages/how-to-object", "/pages/about", "/r/430811", "/lists/1", "/lists/1.csv",
         "/feeds/all.atom", "/complaints/new", "/search")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel, built from a copy of the tracked files (the checkout stays untouched)."""
    work = tmp_path_factory.mktemp("wheel")
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    source = work / "src"
    for name in filter(None, tracked.decode().split("\0")):
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(work / "dist"), str(source)], check=True, timeout=300)
    (built,) = (work / "dist").glob("*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Path:
    """A fresh venv holding the wheel. Its dependencies are borrowed from the test venv through a .pth
    line (a plain path entry: the test venv's own .pth files, the editable install among them, are
    not run), so no download is needed and nothing of the checkout is importable."""
    venv = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "-q", str(wheel)],
                   check=True, timeout=300)
    own = Path(subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                              capture_output=True, text=True, check=True).stdout.strip())
    (own / "zz_test_dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    return python


def run(python, *args, cwd, env=None, **kw):
    return subprocess.run([str(python), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120, **kw)


def test_the_wheel_carries_templates_content_and_import_files(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for tracked in ("content/faq.md", "import/demo/regions.csv", "import/demo/applicants.csv",
                    "import/samples/中湖村申请户-GBK.csv", "import/templates/applicants.csv", "import/README.md"):
        assert f"portal/_data/{tracked}" in names, tracked
    assert "portal/templates/base.html" in names and "portal/static/portal.css" in names
    # Every file of content/ and import/ is in it, not only the ones named above.
    for folder in ("content", "import"):
        for path in (ROOT / folder).rglob("*"):
            if path.is_file():
                assert f"portal/_data/{path.relative_to(ROOT)}" in names, path


def test_the_installed_wheel_runs_from_any_folder_like_the_checkout(installed, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_")}
    env.update({"PORTAL_INSTANCE": str(tmp_path / "instance"), "PORTAL_NOW": NOW, "PYTHONPATH": ""})

    where = run(installed, "-c", "import portal; print(portal.__file__); print(portal.data_dir('import'))",
                cwd=elsewhere, env=env)
    module, import_dir = where.stdout.split()
    assert str(installed.parent.parent) in module and str(ROOT) not in module, where.stdout
    assert import_dir.startswith(str(Path(module).parent)), import_dir

    helped = run(installed, "-m", "flask", "--app", "portal", "--help", cwd=elsewhere, env=env)
    assert helped.returncode == 0, helped.stderr
    listed = set(re.findall(r"^  ([a-z][a-z-]+)", helped.stdout, re.M))
    assert set(COMMANDS) <= listed, helped.stdout

    # The sample files travel with it: a dry run of the GBK sample against the demo campaign.
    sample = Path(import_dir) / "samples" / "中湖村申请户-GBK.csv"
    dry = run(installed, "-m", "flask", "--app", "portal", "import", str(sample), "--kind", "applicants",
              "--campaign", "1", "--region", "430811201005", "--dry-run", cwd=elsewhere, env=env)
    assert dry.returncode == 0 and "共 40 行：将导入新增 40" in dry.stdout, dry.stdout + dry.stderr

    port, log = free_port(), tmp_path / "server.log"
    server = subprocess.Popen([str(installed), "-m", "flask", "--app", "portal", "serve", "--port", str(port)],
                              cwd=elsewhere, env=env, stdout=subprocess.DEVNULL, stderr=log.open("w"))
    try:
        base = f"http://127.0.0.1:{port}"
        assert wait_for(lambda: server.poll() is None and get(base + "/healthz")[0] == 200), log.read_text()
        # Its own search indexer started too and built the index from the wheel's code.
        assert wait_for(lambda: "龙尾巴村初选公示名单" in get(base + "/search?q=lwb")[2]), "no search index"
        reference = create_app({"INSTANCE_PATH": str(tmp_path / "checkout"), "LOAD_DEMO": True, "NOW": NOW,
                                "TESTING": True}).test_client()
        import urllib.error
        import urllib.request

        for path in PAGES:
            try:
                with urllib.request.urlopen(base + path, timeout=30) as resp:
                    status, body = resp.status, resp.read().decode()
            except urllib.error.HTTPError as error:
                status, body = error.code, error.read().decode()
            expected = reference.get(path)
            assert status == expected.status_code == 200, path
            assert _headings(body) == _headings(expected.get_data(as_text=True)), path
    finally:
        server.terminate()
        server.wait(timeout=20)


def _headings(html: str) -> list[str]:
    """What a reader sees first on a page: its title and headings (forms' CSRF tokens differ)."""
    return re.findall(r"<(?:title|h1|h2)[^>]*>(.*?)</", html, re.S)


def _third_party_imports(paths) -> set[str]:
    """Top-level names of everything imported (at any depth of the code) that is not stdlib or ours."""
    found = set()
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 else []
            found |= {n.split(".")[0] for n in names}
    return {n for n in found if n not in sys.stdlib_module_names and n not in ("portal", "tests")}


def _declared() -> dict[str, list[str]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return {"run": project["dependencies"], "test": project["dependencies"] + project["optional-dependencies"]["test"]}


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~ ;\[]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def test_every_import_is_a_declared_dependency():
    distributions = importlib.metadata.packages_distributions()
    declared = {scope: {_name(r) for r in reqs} for scope, reqs in _declared().items()}
    for scope, paths in (("run", PORTAL_FILES), ("test", TEST_FILES)):
        missing = {}
        for module in _third_party_imports(paths):
            dists = {d.lower().replace("_", "-") for d in distributions.get(module, [module])}
            if not dists & declared[scope]:
                missing[module] = sorted(dists)
        assert missing == {}, f"imported by {scope} code but not declared in pyproject.toml"


def test_every_dependency_has_an_upper_bound():
    """A new major release is taken on purpose; tzdata (time-zone data, no API) is the one exception."""
    for scope, reqs in _declared().items():
        for requirement in reqs:
            if _name(requirement) != "tzdata":
                assert "<" in requirement or "==" in requirement, requirement
