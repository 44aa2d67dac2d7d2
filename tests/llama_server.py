"""``python tests/llama_server.py ARGS``: llama-cpp-python's OpenAI-compatible server, loading
its model the way ancre does in-process (``safe_loading``: no AMX weight buffers, which crash
llama.cpp on some machines)."""

import runpy

from ancre.qa.generation.gguf import safe_loading

if __name__ == "__main__":
    with safe_loading():
        runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)
