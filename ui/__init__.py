"""ancre's user interfaces: the `ancre` command line (cli.py) and the Gradio web chat (app.py)."""
