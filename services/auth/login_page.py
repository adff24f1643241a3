"""The login pages (listmonk's ``admin-login`` and ``admin-twofa`` templates), in the style
of the public pages (``services/http/pages.py``: escaped values, no scripts, ``form-action
'self'``). Both APIs render them: the query API for ``GET``, the command API again after a
refused ``POST``. Failures of a form POST are told on the page; a client that asks for JSON
(``Accept: application/json``) gets listmonk's ``{"message": ...}`` instead."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response

from services.auth.sessions import NONCE_LENGTH, new_token, nonce_cookie
from services.http.errors import error_response
from services.http.pages import Html, html, page

LOGIN_TITLE = "Login"
TWOFA_TITLE = "Two-factor authentication"

_LOGIN = """<h1>Login</h1>
<form method="post" action="/admin/login">
<input type="hidden" name="nonce" value="{nonce}">
<input type="hidden" name="next" value="{next}">
<label for="username">Username</label>
<input id="username" type="text" name="username" autocomplete="username" autofocus required
 minlength="3">
<label for="password">Password</label>
<input id="password" type="password" name="password" autocomplete="current-password" required
 minlength="8">
{error}
<p><button type="submit">Login</button></p>
</form>"""

_TWOFA = """<h1>Two-factor authentication</h1>
<p class="help">Enter the 6-digit code from your authenticator app</p>
<form method="post" action="/admin/login/twofa">
<input type="hidden" name="token" value="{token}">
<input type="hidden" name="next" value="{next}">
<label for="totp_code">TOTP code</label>
<input id="totp_code" type="text" name="totp_code" inputmode="numeric" autocomplete="one-time-code"
 autofocus required pattern="[0-9]{{6}}" maxlength="6">
{error}
<p><button type="submit">Continue</button></p>
</form>"""

# The page's style has no rule for password fields; give them the text fields' look.
_EXTRA_STYLE = Html(
    '<style>input[type=password] { display: block; width: 100%; box-sizing: border-box;'
    ' padding: .55rem .65rem; margin: .3rem 0 1rem; border: 1px solid #8c959f;'
    ' border-radius: 6px; font: inherit; } .error { color: #cf222e; }</style>')


def _error(message: str) -> Html:
    return html('<p class="error" role="alert">{message}</p>', message=message) if message \
        else Html("")


def login_page(*, next_uri: str, root_url: str, error: str = "", status_code: int = 200,
               headers: dict[str, str] | None = None) -> Response[str]:
    """The login form with a fresh ``nonce`` (hidden field and cookie: the POST must bring
    both back, listmonk's CSRF check)."""
    nonce = new_token(NONCE_LENGTH)
    body = html(_LOGIN, nonce=nonce, next=next_uri, error=_error(error))
    response = page(LOGIN_TITLE, Html(_EXTRA_STYLE + body), status_code=status_code,
                    extra_headers=headers)
    response.set_cookie(nonce_cookie(nonce, root_url))
    return response


def twofa_page(*, token: str, next_uri: str, error: str = "", status_code: int = 200,
               headers: dict[str, str] | None = None) -> Response[str]:
    body = html(_TWOFA, token=token, next=next_uri, error=_error(error))
    return page(TWOFA_TITLE, Html(_EXTRA_STYLE + body), status_code=status_code,
                extra_headers=headers)


def wants_json(request: Request[Any, Any, Any]) -> bool:
    """A client that asks for JSON and not HTML (scripts; browsers ask for HTML)."""
    accept = request.headers.get("accept", "").lower()
    return "application/json" in accept and "text/html" not in accept


def refused_login(request: Request[Any, Any, Any], *, status: int, message: str,
                  next_uri: str, root_url: str, headers: dict[str, str] | None = None
                  ) -> Response[Any]:
    """A refused login: the form again with the error, or ``{"message": ...}``."""
    if wants_json(request):
        return error_response(status, message, headers)
    return login_page(next_uri=next_uri, root_url=root_url, error=message, status_code=status,
                      headers=headers)


def refused_twofa(request: Request[Any, Any, Any], *, status: int, message: str, token: str,
                  next_uri: str, headers: dict[str, str] | None = None) -> Response[Any]:
    if wants_json(request):
        return error_response(status, message, headers)
    return twofa_page(token=token, next_uri=next_uri, error=message, status_code=status,
                      headers=headers)
