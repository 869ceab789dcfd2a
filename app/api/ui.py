"""The dashboard at /ui: one page and a small script, shipped in the package (no CDN, no build step).

The page reads the same JSON API as every other client and follows ``GET /events`` to update live.
A browser's EventSource cannot send an ``Authorization`` header, so when the API has a token the
dashboard signs in once: ``POST /ui/login`` with the token sets an HttpOnly, SameSite=Strict cookie
holding a value *derived* from the token (never the token itself). That cookie is accepted for GET
requests only, so the dashboard is read-only and a forged cross-site request can change nothing.
"""

from __future__ import annotations

import hashlib
import hmac
from importlib.resources import files
from urllib.parse import parse_qs

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from app import __version__

COOKIE = "claude_workers_ui"
ASSETS_URL = "/ui/assets"
SESSION_DAYS = 7
_ASSETS = files("app.api") / "ui_assets"
_LOGIN_MAX_BODY = 4096


def session_value(token: str) -> str:
    """What the cookie holds: a value only the token's holder can make, useless as a bearer token."""
    return hmac.new(token.encode(), b"claude-workers dashboard session v1", hashlib.sha256).hexdigest()


def cookie_matches(request: Request, token: str) -> bool:
    given = request.cookies.get(COOKIE, "")
    return bool(given) and hmac.compare_digest(given.encode(), session_value(token).encode())


def _page(name: str, **values: str) -> str:
    text = (_ASSETS / name).read_text().replace("{{version}}", __version__)
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", value)
    return text


def _login_page(problem: str | None = None, status: int = 200) -> HTMLResponse:
    note = f'<p class="problem" role="alert">{problem}</p>' if problem else ""
    return HTMLResponse(_page("login.html", problem=note), status_code=status)


def install(app: FastAPI, token: str | None) -> None:
    app.mount(ASSETS_URL, StaticFiles(directory=str(_ASSETS)), name="ui-assets")

    @app.get("/ui", include_in_schema=False)
    def dashboard(request: Request) -> Response:
        if token is not None and not cookie_matches(request, token):
            return _login_page()
        page = _page("index.html", auth="token" if token is not None else "none")
        return HTMLResponse(page, headers={"cache-control": "no-store"})

    @app.post("/ui/login", include_in_schema=False)
    async def login(request: Request) -> Response:
        if token is None:
            return RedirectResponse("/ui", status_code=303)
        body = await request.body()
        given = parse_qs(body[:_LOGIN_MAX_BODY].decode(errors="replace")).get("token", [""])[0].strip()
        if not hmac.compare_digest(given.encode(), token.encode()):
            return _login_page("That is not this API's token (CLAUDE_WORKERS_API_TOKEN).", status=401)
        answer = RedirectResponse("/ui", status_code=303)
        answer.set_cookie(
            COOKIE,
            session_value(token),
            max_age=SESSION_DAYS * 86400,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            path="/",
        )
        return answer

    @app.post("/ui/logout", include_in_schema=False)
    def logout() -> Response:
        answer = RedirectResponse("/ui", status_code=303)
        answer.delete_cookie(COOKIE, path="/")
        return answer
