"""Instruments that measure ancre (``ancre eval``, ``ancre bench``); never imported by the
answer path.

- ``questions``: question files (JSON Lines, SQuAD), the corpus of SQuAD articles, sampling;
- ``metrics``: answer and retrieval metrics, the per-question ``Row``, ``summarize``;
- ``evaluate``: ``evaluate(questions, answerer) -> list[Row]``;
- ``calibrate``: fitting the abstention model;
- ``report``: the metrics table, summaries, comparing runs, ``Figures``, ``--json`` files;
- ``bench``: ingestion, embedding and cold-start benches, and all benches in turn;
- ``synthetic``: the synthetic index and the retrieval-at-scale bench;
- ``generation``: the generator's speed and whole answers;
- ``coldstart``: the child process that answers one question from a cold start.
"""
