"""Prompt templates, one file each (``<name>.<lang>.txt``), installed with the package.

Placeholders are ``{name}``; ``qa.prompting.render`` fills them strictly (a missing or unused
variable is an error)."""
