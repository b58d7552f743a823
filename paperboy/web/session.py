"""Sessions in signed cookies, kept in the store, and CSRF protection for every form.

The session cookie holds a random token signed with the secret key; the store keeps its hash
and the reader it signs in (`store/sessions.py`), so any replica on the same store accepts it,
signing out ends it on the server, and "sign out everywhere" ends all of a reader's. Sessions
older than `SESSION_DAYS` are refused. Forms carry a CSRF token, an HMAC with the secret key of
the (HttpOnly, SameSite=Lax) `pb_csrf` cookie's random value and of the session: a page of
another site can make a browser post a form but cannot read the cookie, and one that can set it
(a sibling subdomain) still cannot make a token that matches, nor reuse a token made for
another session.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta
from typing import Any

from fastapi import HTTPException, Request, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from paperboy.clock import Clock
from paperboy.store.sessions import ReaderSessions

SESSION_COOKIE = "pb_session"
CSRF_COOKIE = "pb_csrf"
SESSION_DAYS = 30


class Sessions:
    def __init__(self, secret: str, *, secure: bool, store: ReaderSessions,
                 clock: Clock) -> None:
        self._signer = URLSafeTimedSerializer(secret, salt="paperboy-session")
        self._csrf_key = hashlib.sha256(f"paperboy-csrf|{secret}".encode()).digest()
        self.secure = secure
        self._store = store
        self._clock = clock

    def _token(self, request: Request) -> str | None:
        cookie = request.cookies.get(SESSION_COOKIE)
        if not cookie:
            return None
        try:
            value = self._signer.loads(cookie, max_age=SESSION_DAYS * 86_400)
        except BadSignature:
            return None
        return value if isinstance(value, str) else None  # an int: a cookie from before

    def reader_id(self, request: Request) -> int | None:
        token = self._token(request)
        if token is None:
            return None
        return self._store.reader_of(token, self._clock(),
                                     lifetime=timedelta(days=SESSION_DAYS))

    def sign_in(self, response: Response, reader_id: int) -> None:
        token = self._store.start(reader_id, self._clock())
        response.set_cookie(SESSION_COOKIE, self._signer.dumps(token),
                            max_age=SESSION_DAYS * 86_400, httponly=True, samesite="lax",
                            secure=self.secure, path="/")

    def sign_out(self, request: Request, response: Response) -> None:
        """End this browser's session, on the server too."""
        if (token := self._token(request)) is not None:
            self._store.end(token)
        response.delete_cookie(SESSION_COOKIE, path="/")

    def sign_out_everywhere(self, reader_id: int, response: Response) -> int:
        """End every session of the reader (other browsers and devices); how many."""
        response.delete_cookie(SESSION_COOKIE, path="/")
        return self._store.end_all(reader_id)

    # -- CSRF -------------------------------------------------------------------------------

    def csrf_token(self, request: Request) -> str:
        """The token this client's forms carry: an HMAC of its `pb_csrf` cookie (a new one is
        set on the response when it has none) and of its session, so a token works only with
        the cookie and the session it was made for."""
        nonce = request.cookies.get(CSRF_COOKIE) or getattr(request.state, "csrf_new", None)
        if not nonce:
            nonce = secrets.token_urlsafe(32)
            request.state.csrf_new = nonce
        return self._csrf_for(str(nonce), self._token(request) or "")

    def csrf_cookie(self, token: str) -> str:
        """The Set-Cookie value that gives a client its CSRF cookie."""
        return (f"{CSRF_COOKIE}={token}; HttpOnly; Path=/; SameSite=lax"
                + ("; Secure" if self.secure else ""))

    def check_csrf(self, request: Request, form: Any) -> None:
        sent = str(form.get("csrf") or "")
        nonce = request.cookies.get(CSRF_COOKIE) or ""
        if not nonce or not hmac.compare_digest(
                sent, self._csrf_for(nonce, self._token(request) or "")):
            raise HTTPException(403, "this form has expired or did not come from this site; "
                                     "reload the page and try again")

    def _csrf_for(self, nonce: str, session: str) -> str:
        mac = hmac.new(self._csrf_key, f"{nonce}|{session}".encode(), hashlib.sha256)
        return mac.hexdigest()


def current_reader(request: Request) -> dict[str, Any] | None:
    """The signed-in reader, looked up once per request (the app's `sessions` and `service`
    are in its state)."""
    if not hasattr(request.state, "reader"):
        reader_id = request.app.state.sessions.reader_id(request)
        request.state.reader = (request.app.state.service.store.readers.get(reader_id)
                                if reader_id is not None else None)
    return request.state.reader  # type: ignore[no-any-return]


def signed_in(request: Request) -> dict[str, Any]:
    """The signed-in reader; a 401 that says how to sign in when there is none."""
    reader = current_reader(request)
    if reader is None:
        raise HTTPException(401, "sign in first: ask for a sign-in link at /signin")
    return reader
