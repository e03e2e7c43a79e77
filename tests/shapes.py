"""Real-shaped fixtures shared by tests: manifests in the shapes public repos use (never
their code), so each test builds the same shape without repeating it."""

from __future__ import annotations

# A poetry-only polylith workspace (the shape of python-polylith-example): the root and each
# project are poetry packages whose `packages` come from bases/ and components/, which hold
# no pyproject of their own; one component here is a package (it has its own pyproject).
POLY_ROOT = """[tool.poetry]
name = "Python Polylith Example"
version = "1.0.0"
packages = [
    {include = "example/greet_api", from = "bases"},
    {include = "example/greeting", from = "components"},
    {include = "development"},
]
"""
POLY_PROJECT = """[tool.poetry]
name = "my_fastapi_project"
version = "0.0.1"
packages = [
    {include = "example/log", from = "../../components"},
    {include = "example/greeting", from = "../../components"},
    {include = "example/greet_api", from = "../../bases"},
    {include = "example/db", from = "../../components"},
    {include = "example/gone", from = "../../components"},
]

[tool.poetry.dependencies]
python = "^3.10"
fastapi = {extras = ["standard"], version = "^0.137.2"}
"""
