"""The API's shape (issue 12): a route parses, calls one use case and renders. So a route
function is short, no view module imports another, and no view reaches the store but
through a use case of ``app/``."""

from __future__ import annotations

import ast
from pathlib import Path

import pixelmotion.api.views as views_package

VIEWS = sorted(Path(views_package.__file__).parent.glob("*.py"))
ROUTE_DECORATORS = {"get", "post", "put", "patch", "delete"}
MAX_ROUTE_LINES = 15


def routes(tree: ast.Module) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
    found = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for decorator in node.decorator_list:
                call = decorator.func if isinstance(decorator, ast.Call) else decorator
                if isinstance(call, ast.Attribute) and call.attr in ROUTE_DECORATORS:
                    found.append(node)
    return found


def test_every_route_function_is_short() -> None:
    long = {}
    for path in VIEWS:
        for route in routes(ast.parse(path.read_text())):
            # From the def line to the last line, decorators and docstring aside.
            body = route.body[1:] if ast.get_docstring(route) else route.body
            lines = (route.end_lineno or route.lineno) - body[0].lineno + 1
            if lines > MAX_ROUTE_LINES:
                long[f"{path.name}:{route.name}"] = lines
    assert routes(ast.parse((VIEWS[0].parent / "jobs.py").read_text())), "the check finds routes"
    assert long == {}


def test_no_view_imports_another_view() -> None:
    crossing = []
    for path in VIEWS:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("pixelmotion.api.views"):
                crossing.append(f"{path.name}: {node.module}")
    assert crossing == []


def store_import(node: ast.AST) -> bool:
    module = node.module or "" if isinstance(node, ast.ImportFrom) else ""
    # The webhook record types are rendered; nothing else of the store is a view's.
    return module.startswith("pixelmotion.store") and module != "pixelmotion.store.webhooks"


def store_reach(node: ast.AST) -> bool:
    """``….repository.jobs`` or ``….store.events``: an aggregate of the store, reached."""
    return (
        isinstance(node, ast.Attribute)
        and node.attr in {"jobs", "events", "queue", "usage", "webhooks", "callbacks", "retention"}
        and isinstance(node.value, ast.Attribute)
        and node.value.attr in {"repository", "store"}
    )


def test_no_view_touches_the_store() -> None:
    touching = [
        f"{path.name}:{getattr(node, 'lineno', 0)}"
        for path in VIEWS
        for node in ast.walk(ast.parse(path.read_text()))
        if store_import(node) or store_reach(node)
    ]
    assert touching == []
