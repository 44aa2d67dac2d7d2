"""The account under ``--auth``: the login page in ancre's clothes (its name, its tagline, a
page title, in the page's language) and a logout link in the sidebar once logged in.

Gradio draws its own login form before the page's config (and so before the page's CSS) is
sent; ``login_head`` is added to the page's ``<head>`` by the language middleware and dresses
that form when it appears. Logging out ends this browser's session only.
"""

import json
from typing import TYPE_CHECKING, Any

from .i18n import t
from .render import esc

if TYPE_CHECKING:
    import gradio as gr

LOGOUT = "logout?all_session=false"
"""Gradio's logout route (relative: the page may be served under a path), this session only."""
LOGIN_CSS = """
body.ancre-login .wrap.min-h-screen { display: flex; align-items: center; justify-content: center; }
body.ancre-login .column.panel { border: 1px solid var(--border-color-primary, #d1d5db);
  border-radius: 14px; padding: 1.5rem 1.6rem !important; box-shadow: 0 10px 30px rgba(0,0,0,.12);
  background: var(--background-fill-primary, #fff); }
#ancre-login-brand { margin: 0 0 0.6rem; }
#ancre-login-brand h1 { font-size: 1.7rem; font-weight: 700; margin: 0; letter-spacing: -0.01em; }
#ancre-login-brand p { margin: 0.2rem 0 0; font-size: 0.95rem;
  color: var(--body-text-color, #111); }
body.ancre-login .column.panel > h2 { font-size: 1.05rem; margin: 0.4rem 0 0.2rem; }
"""
LOGIN_JS = """(function(){var b=%s;
var seen=new MutationObserver(dress);
function dress(){if(document.getElementById('ancre-chat')){seen.disconnect();return;}
var pw=document.querySelector('input[type=password]');
if(!pw||document.getElementById('ancre-login-brand'))return;
var panel=pw.closest('.column.panel');if(!panel)return;
document.body.classList.add('ancre-login');
var d=document.createElement('div');d.id='ancre-login-brand';
var h=document.createElement('h1');h.textContent=b.name;
var p=document.createElement('p');p.textContent=b.tagline;d.append(h,p);panel.prepend(d);
var user=document.querySelector('input[data-testid=textbox]');
if(user)user.setAttribute('autocomplete','username');
pw.setAttribute('autocomplete','current-password');}
seen.observe(document.documentElement,{childList:true,subtree:true});
})();"""


def login_head(lang: str) -> bytes:
    """A title for the page (Gradio's login page has none) and what dresses its login form:
    added at the top of ``<head>``; the chat's own title replaces it once logged in."""
    brand = json.dumps({"name": "ancre", "tagline": t(lang, "tagline")}).replace("</", "<\\/")
    return (
        f"<title>{esc(t(lang, 'title'))}</title><style>{LOGIN_CSS}</style>"
        f"<script>{LOGIN_JS % brand}</script>"
    ).encode()


def account_line(user: str | None, lang: str) -> str:
    """Who is logged in and the logout link; nothing without ``--auth``."""
    if not user:
        return ""
    return (
        f'<p class="ancre-account">{esc(t(lang, "signed_in", user=user))} · '
        f'<a href="{LOGOUT}">{esc(t(lang, "logout"))}</a></p>'
    )


def account_box(demo: "gr.Blocks") -> Any:
    """The sidebar's account line, filled when the page loads."""
    import gradio as gr

    from .documents_tab import lang_of

    box = gr.HTML(elem_id="ancre-account", container=False)

    def fill(request: gr.Request) -> str:
        return account_line(getattr(request, "username", None), lang_of(request))

    demo.load(fill, None, box, api_visibility="private", show_progress="hidden")
    return box
