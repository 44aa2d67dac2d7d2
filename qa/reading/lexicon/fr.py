"""French words the read path's rules are written with, as data (like spaCy's ``lang/fr``)."""

MONTHS = (
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
)
DAYS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
CENTURY = "siècle"
NUMBER_WORDS = (
    "un",
    "une",
    "deux",
    "trois",
    "quatre",
    "cinq",
    "six",
    "sept",
    "huit",
    "neuf",
    "dix",
    "onze",
    "douze",
    "treize",
    "quatorze",
    "quinze",
    "seize",
    "vingt",
    "trente",
    "quarante",
    "cinquante",
    "soixante",
    "cent",
    "cents",
    "mille",
    "million",
    "millions",
    "milliard",
    "milliards",
)
"""In this order: the quantity pattern tries them in turn."""
ANAPHORS = (
    "il",
    "elle",
    "ils",
    "elles",
    "ce",
    "cet",
    "cette",
    "ces",
    "celui-ci",
    "celle-ci",
    "ceux-ci",
    "celles-ci",
    "ce dernier",
    "cette dernière",
    "ces derniers",
    "ces dernières",
    "cela",
    "ceci",
)
"""Words that open a sentence which does not name what it speaks about ('Il fut...')."""
POINTING_WORDS = ("celui", "celle", "ceux", "celles", "ça", "lui", "leur")
"""Other words that point back to something named before, inside a span ('lui', 'leur')."""
NAME_PARTICLES = ("de", "du", "des", "d'", "la", "le", "les", "l'")
"""Lower-case words inside a name ('Afrique du Sud', 'Charles de Gaulle')."""
