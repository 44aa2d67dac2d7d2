"""Print the module map of docs/architecture.md: each module's size and first docstring line."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

print("| module | lines | what it does |\n|---|---|---|")
for top in ("index", "qa", "ui"):
    for folder in sorted({path.parent for path in (ROOT / top).rglob("*.py")}):
        package = folder.relative_to(ROOT).as_posix()
        for path in sorted(folder.glob("*.py")):
            text = path.read_text(encoding="utf-8")
            doc = (ast.get_docstring(ast.parse(text)) or "-").split("\n\n")[0].replace("\n", " ")
            print(f"| `{package}/{path.name}` | {len(text.splitlines())} | {doc} |")
