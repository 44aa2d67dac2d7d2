"""The README's quickstart is what CI runs: keep the two in step."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    commands = re.findall(r"```\n(pip install [^\n]+)\n```", readme)
    assert len(commands) == 2, commands  # one to run ancre, one to run the tests
    assert commands[1] in ci.splitlines()


def test_packaging_installs_everything_under_ancre():
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    setuptools = project["tool"]["setuptools"]
    packages = set(setuptools["packages"])
    assert {"ancre.index", "ancre.qa", "ancre.ui", "ancre.prompts", "ancre.samples"} <= packages
    assert all(p.startswith("ancre.") for p in packages)
    assert all(setuptools["package-dir"][p] == "/".join(p.split(".")[1:]) for p in packages)
    data = setuptools["package-data"]
    assert "*.txt" in data["ancre.prompts"] and "articles/*" in data["ancre.samples"]
    assert project["project"]["scripts"]["ancre"] == "ancre.ui.cli:run"


def test_no_generic_top_level_names_after_install(tmp_path):
    """From a neutral folder, `index`, `qa`, `ui`, `prompts` and `samples` are not importable:
    nothing generic lands at the top of site-packages."""
    code = (
        "import importlib.util as u, ancre.qa, ancre.index, ancre.ui, ancre.prompts, ancre.samples;"
        "print([n for n in ('index', 'qa', 'ui', 'prompts', 'samples') if u.find_spec(n)])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


@pytest.mark.slow
def test_readme_python_example_runs(tmp_path):
    """The README's "From Python" block, run as written (with a fake-free tiny corpus: the
    real models are installed anyway)."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```python\n(.*?)```", readme, re.S).group(1)
    assert "from ancre.qa import ask" in block and "from ancre.index import build" in block
    articles = tmp_path / "my-articles"
    articles.mkdir()
    (articles / "maire.txt").write_text(
        "Saint-Ybars élit sa maire\n\nLe conseil municipal de Saint-Ybars a élu Jeanne Martin "
        "maire dimanche, avec 15 voix sur 19.\n",
        encoding="utf-8",
    )
    env = {**os.environ, "ANCRE_LLM": "none"}
    out = subprocess.run(
        [sys.executable, "-c", block], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr


def shown(text: str, home: Path | None = None, port: int | None = None) -> str:
    """Output as the README shows it, on one line: the fresh HOME as /root, the port as
    7860, and times and confidences (which vary with the machine and the models) masked."""
    if home is not None:
        text = text.replace(str(home), "/root")
    if port is not None:
        text = text.replace(f":{port}/", ":7860/")
    text = re.sub(r"\d+(?:\.\d+)? s\b", "<t> s", text)
    text = re.sub(r"\d+% sure", "<p>% sure", text)
    return " ".join(text.split())


def readme_commands(readme: str) -> list[tuple[str, str]]:
    """The README's ``$ ancre ...`` commands, each with the output it shows."""
    block = re.search(r"From the command line.*?\n```\n(.*?)```", readme, re.S).group(1)
    steps = re.split(r"^\$ ", block, flags=re.M)[1:]
    return [tuple(step.split("\n", 1)) for step in steps]


@pytest.mark.slow
def test_the_readme_commands_run_as_written_in_a_fresh_home(tmp_path):
    """A new user's session: `ancre chat` (the first run indexes the samples), then the
    command-line examples in order, each printing what the README shows."""
    import shlex
    import signal

    from ancre.index import IndexSettings
    from conftest import free_port

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    first_run = re.search(r"```\npip install \. && ancre chat\n```\n```\n(.*?)```", readme, re.S)
    home, port = tmp_path / "home", free_port()
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANCRE_", "XDG_", "GRADIO_"))}
    env.update(HOME=str(home), ANCRE_CACHE_DIR=IndexSettings().cache_dir)  # models prepared
    bin_dir = Path(sys.executable).parent
    chat = subprocess.Popen(
        [str(bin_dir / "ancre"), "chat", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines = []
    try:
        for line in chat.stderr:
            lines.append(line)
            if "web chat on" in line or len(lines) > 20:
                break
    finally:
        chat.send_signal(signal.SIGINT)  # Ctrl-C
        chat.wait(timeout=60)
    assert matches(shown("".join(lines), home, port), shown(first_run.group(1))), lines
    for command, expected in readme_commands(readme):
        argv = shlex.split(command)
        assert argv[0] == "ancre"
        out = subprocess.run(
            [str(bin_dir / "ancre"), *argv[1:]],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=300,
        )
        assert out.returncode == 0, (command, out.stdout)
        assert matches(shown(out.stdout, home), shown(expected)), (command, out.stdout)


def matches(printed: str, shown_text: str) -> bool:
    """Whether ``printed`` is what the README shows, where the README's ``[...]`` stands for
    words of a long quote left out."""
    parts = [re.escape(p) for p in shown_text.split("[...]")]
    return re.fullmatch(".+?".join(parts), printed) is not None
