"""Retrieval, the answer's first stage: hybrid search and its fusion (``search``), the
learned reranker (``rerank``), follow-up questions (``followup``) and questions in another
language than the index's (``crosslingual``)."""
