"""Print the module map of docs/architecture.md: each module's size and first docstring line."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

print("| module | lines | what it does |\n|---|---|---|")
for package in ("index", "qa", "qa/measure", "ui"):
    for path in sorted((ROOT / package).glob("*.py")):
        text = path.read_text(encoding="utf-8")
        doc = (ast.get_docstring(ast.parse(text)) or "-").split("\n\n")[0].replace("\n", " ")
        print(f"| `{package}/{path.name}` | {len(text.splitlines())} | {doc} |")
