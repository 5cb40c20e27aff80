"""The tests' own layout: a test module imports shared code from ``tests/helpers.py``, never from
another test module or from ``conftest.py`` (whose fixtures pytest injects by name)."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def _forbidden(name: str) -> bool:
    """``conftest`` or ``test_…``, bare or as ``tests.…``."""
    last = name.removeprefix("tests.")
    return "." not in last and (last == "conftest" or last.startswith("test_"))


def imports_of_test_code(source: str, filename: str = "<test>") -> list[str]:
    """``line: statement`` for each import of a test module or of conftest, at any depth."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if (node.level and not module) or (not node.level and module == "tests"):
                names = [alias.name for alias in node.names]  # from . import conftest
            else:
                names = [module]
        elif (
            isinstance(node, ast.Call)
            and (
                (isinstance(node.func, ast.Attribute) and node.func.attr == "import_module")
                or (isinstance(node.func, ast.Name) and node.func.id == "__import__")
            )
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            names = [node.args[0].value.lstrip(".")]
        if any(_forbidden(name) for name in names):
            found.append(f"{filename}:{node.lineno}: {ast.unparse(node)}")
    return found


def test_no_test_module_imports_another_test_module_or_conftest():
    # The check itself sees every spelling.
    forbidden = [
        "from .conftest import make_app",
        "from tests.conftest import DEMO_MAP",
        "from tests.test_admin import sign_in",
        "from .test_intake import csrf",
        "import tests.test_retention",
        "import tests.conftest as c",
        "from . import conftest",
        "from tests import test_admin",
        "from conftest import utc",
        "from test_admin import csrf",
        "import test_admin",
        "def f():\n    from tests.test_fulfilment import SUBJECT",
        "importlib.import_module('tests.test_admin')",
        "__import__('tests.conftest')",
    ]
    for source in forbidden:
        assert imports_of_test_code(source), source
    allowed = (
        "from tests.helpers import make_request\n"
        "from tests import helpers\n"
        "import rightsdesk.requests.lifecycle\n"
        "from rightsdesk.domain import test_data\n"
        "from .helpers import csrf\n"
    )
    assert imports_of_test_code(allowed) == []

    modules = [*sorted(TESTS.glob("test_*.py")), TESTS / "helpers.py"]
    assert len(modules) > 30  # the glob found the suite
    found = []
    for path in modules:
        found += imports_of_test_code(path.read_text(encoding="utf-8"), path.name)
    assert found == [], "import shared test code from tests/helpers.py:\n" + "\n".join(found)
