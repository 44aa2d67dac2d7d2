"""The read path's errors, in one leaf module: each message says what to do."""


class LLMError(RuntimeError):
    """The model cannot be loaded or reached; the message says what to do."""


class NLPUnavailable(RuntimeError):
    """spaCy or its French model is not installed; the message gives the pip command."""
