"""Generation: the language models that draft an answer (``llm``, loaded through ``gguf``,
their prompt state kept by ``kvstate``) and the prompts they are given (``prompting``)."""
