"""English words the read path's rules are written with, as data (like spaCy's ``lang/en``)."""

MONTHS = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)
NOT_CALENDAR = frozenset({"may"})
"""Months that are also common words: never taken for a date's word by themselves."""
DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
CENTURY = "century"
NUMBER_WORDS = (
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "hundred",
    "thousand",
)
ANAPHORS = ("he", "she", "they", "it", "this", "these", "those")
POINTING_WORDS = ("that",)
NAME_PARTICLES = ("of", "the")
