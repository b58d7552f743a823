"""Sessions in signed cookies and CSRF protection for every form.

The session cookie holds the reader's id, signed with the secret key and refused after
`SESSION_DAYS`, so any replica with the same key accepts it. Forms carry a CSRF token that must
equal the (HttpOnly, SameSite=Lax) `pb_csrf` cookie: a page of another site can make a browser
post a form, but cannot read or set that cookie.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Any

from fastapi import HTTPException, Request, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

SESSION_COOKIE = "pb_session"
CSRF_COOKIE = "pb_csrf"
SESSION_DAYS = 30


class Sessions:
    def __init__(self, secret: str, *, secure: bool) -> None:
        self._signer = URLSafeTimedSerializer(secret, salt="paperboy-session")
        self.secure = secure

    def reader_id(self, request: Request) -> int | None:
        cookie = request.cookies.get(SESSION_COOKIE)
        if not cookie:
            return None
        try:
            value = self._signer.loads(cookie, max_age=SESSION_DAYS * 86_400)
        except BadSignature:
            return None
        return value if isinstance(value, int) else None

    def sign_in(self, response: Response, reader_id: int) -> None:
        response.set_cookie(SESSION_COOKIE, self._signer.dumps(reader_id),
                            max_age=SESSION_DAYS * 86_400, httponly=True, samesite="lax",
                            secure=self.secure, path="/")

    def sign_out(self, response: Response) -> None:
        response.delete_cookie(SESSION_COOKIE, path="/")

    # -- CSRF -------------------------------------------------------------------------------

    def csrf_token(self, request: Request) -> str:
        """This client's token (a new one is set on the response by `remember_csrf`)."""
        token = request.cookies.get(CSRF_COOKIE) or getattr(request.state, "csrf_new", None)
        if not token:
            token = secrets.token_urlsafe(32)
            request.state.csrf_new = token
        return str(token)

    def csrf_cookie(self, token: str) -> str:
        """The Set-Cookie value that gives a client its CSRF token."""
        return (f"{CSRF_COOKIE}={token}; HttpOnly; Path=/; SameSite=lax"
                + ("; Secure" if self.secure else ""))

    def check_csrf(self, request: Request, form: Any) -> None:
        sent = str(form.get("csrf") or "")
        expected = request.cookies.get(CSRF_COOKIE) or ""
        if not expected or not hmac.compare_digest(sent, expected):
            raise HTTPException(403, "this form has expired or did not come from this site; "
                                     "reload the page and try again")
