"""The account under --auth: the login page's head (title, ancre's name, in the page's
language) and the sidebar's logout line."""

from __future__ import annotations

import json

from ancre.ui.account import account_line, login_head


def test_the_login_head_names_ancre_in_the_page_language():
    fr, en = login_head("fr").decode(), login_head("en").decode()
    assert fr.startswith("<title>ancre · questions sur vos articles</title>")
    assert json.dumps("Réponses courtes tirées de vos articles")[1:-1] in fr  # as JS text
    assert "Short answers" in en
    assert fr.count("<script>") == 1 and fr.count("</script>") == 1  # nothing breaks out


def test_the_logout_line_only_for_a_user_and_escaped():
    assert account_line(None, "fr") == "" and account_line("", "en") == ""
    line = account_line("<b>alice</b>", "fr")
    assert "Connecté : &lt;b&gt;alice&lt;/b&gt;" in line and "<b>" not in line
    assert 'href="logout?all_session=false"' in line and "Se déconnecter" in line
