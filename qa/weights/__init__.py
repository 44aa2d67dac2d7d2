"""Fitted weights of the read path's small learned models (JSON; see ``ancre.qa.learned``)."""
