"""The size rules of the code (DESIGN.md, issue 15): no module in pipeline/ or storage/ over
400 lines, no class over 300, no function over 60. Migrations and data files are exempt.

Sizes are measured with ``ast`` (a class or function from its first decorator to its last
line), so the rule cannot be dodged by formatting and says exactly where a file is too big.
"""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("pipeline", "storage")
MAX_MODULE_LINES = 400
MAX_CLASS_LINES = 300
MAX_FUNCTION_LINES = 60
EXEMPT_DIRECTORIES = ("storage/migrations/",)  # the schema's history: written once, never edited

# Files still too big, each with why it may be for now. An entry must go once the file fits
# (test_allowlist_holds_only_files_still_too_big fails until it does).
ALLOWLIST: dict[str, str] = {}


def source_files() -> list[Path]:
    """Python files under pipeline/ and storage/ (data files are not Python: never measured)."""
    files = [path for package in PACKAGES for path in sorted((ROOT / package).rglob("*.py"))]
    return [path for path in files if not _relative(path).startswith(EXEMPT_DIRECTORIES)]


def _relative(path: Path, root: Path = ROOT) -> str:
    return path.relative_to(root).as_posix()


def size_problems(path: Path, root: Path = ROOT) -> list[str]:
    """Every rule this file breaks, one line each ("file:line: what of N lines > limit")."""
    source = path.read_text(encoding="utf-8")
    name = _relative(path, root)
    problems = []
    lines = len(source.splitlines())
    if lines > MAX_MODULE_LINES:
        problems.append(f"{name}: module of {lines} lines > {MAX_MODULE_LINES}")
    for node in ast.walk(ast.parse(source, filename=name)):
        if isinstance(node, ast.ClassDef):
            limit, kind = MAX_CLASS_LINES, "class"
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            limit, kind = MAX_FUNCTION_LINES, "function"
        else:
            continue
        first = min([node.lineno, *(decorator.lineno for decorator in node.decorator_list)])
        length = (node.end_lineno or node.lineno) - first + 1
        if length > limit:
            problems.append(f"{name}:{first}: {kind} {node.name} of {length} lines > {limit}")
    return problems


def test_modules_classes_and_functions_stay_small() -> None:
    problems = [
        problem
        for path in source_files()
        if _relative(path) not in ALLOWLIST
        for problem in size_problems(path)
    ]
    assert problems == [], "too big (split it where its concerns part):\n" + "\n".join(problems)


def test_allowlist_holds_only_files_still_too_big() -> None:
    existing = {_relative(path) for path in source_files()}
    stale = [name for name in ALLOWLIST if name not in existing or not size_problems(ROOT / name)]
    assert stale == [], f"remove from ALLOWLIST (gone, or small now): {stale}"


def test_the_size_check_sees_each_rule_broken(tmp_path: Path) -> None:
    body = [f"        x{n} = {n}" for n in range(MAX_FUNCTION_LINES)]
    methods = [f"    def m{n}(self) -> None: ..." for n in range(MAX_MODULE_LINES)]
    source = ["class Big:", "    @staticmethod", "    def too_long() -> None:", *body, *methods]
    oversized = tmp_path / "pipeline" / "big.py"
    oversized.parent.mkdir()
    oversized.write_text("\n".join(source) + "\n")
    assert size_problems(oversized, tmp_path) == [
        f"pipeline/big.py: module of {len(source)} lines > {MAX_MODULE_LINES}",
        f"pipeline/big.py:1: class Big of {len(source)} lines > {MAX_CLASS_LINES}",
        f"pipeline/big.py:2: function too_long of {len(body) + 2} lines > {MAX_FUNCTION_LINES}",
    ]


def test_every_package_directory_is_in_pyprojects_package_list() -> None:
    # setuptools installs only the listed packages: one left out is missing from the wheel and
    # from the Docker image (`pip install .`), though every test run from the tree passes.
    listed = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    directories = {path.parent for package in PACKAGES for path in (ROOT / package).rglob("*.py")}
    found = {_relative(directory).replace("/", ".") for directory in directories}
    without_init = sorted(
        _relative(directory)
        for directory in directories
        if not (directory / "__init__.py").exists()
    )
    assert without_init == [], f"Python files outside a package (add __init__.py): {without_init}"
    assert sorted(found - listed) == [], "add to [tool.setuptools] packages in pyproject.toml"
    missing = sorted(name for name in listed if not (ROOT / name.replace(".", "/")).is_dir())
    assert missing == [], "listed in pyproject.toml but not in the tree"
