"""Reading, the answer's second stage: the passages' sentences (``sentences``), the kind of
answer asked (``qtype``), answer spans (``spans``, ``shortanswer``, ``describe``), whether the
passages answer at all (``evidence``) and how sure the likely answer is (``confidence``)."""
