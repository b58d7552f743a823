"""Reader pages: subscribe, confirm, sign in and out, the account page and its forms, saving,
upvoting and dismissing papers, and the one-click unsubscribe of every digest. The library's
own forms (import, export, collections) are web/library.py."""

from __future__ import annotations

import html
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from paperboy.readers.accounts import Accounts, LinkError
from paperboy.service import Paperboy
from paperboy.store.library import DEFAULT, CollectionError, collection_name, in_order
from paperboy.store.readers import reader_key
from paperboy.web.clients import client_address
from paperboy.web.foryou import private_feed_url
from paperboy.web.render import render
from paperboy.web.session import Sessions, current_reader, signed_in

router = APIRouter(include_in_schema=False)
MAX_UPLOAD_BYTES = 4 * 1024 * 1024  # a library export (web/app.py lets its upload be so)
Csrf = Annotated[str, Form(max_length=100)]
_MESSAGES = {
    "sent": "Check your inbox: a link is on its way. It works once, and expires; if nothing "
            "arrives within a few minutes, ask again.",
    "invalid": "That does not look like an email address.",
    "rate_limited": "Too many requests for this address or from your network; try again in "
                    "an hour.",
    "no_email": "This Paperboy server sends no email, so subscribing and signing in by "
                "email are not available here. Nothing was stored.",
}


def _accounts(request: Request) -> Accounts:
    return request.app.state.accounts  # type: ignore[no-any-return]


def _sessions(request: Request) -> Sessions:
    return request.app.state.sessions  # type: ignore[no-any-return]


def _service(request: Request) -> Paperboy:
    return request.app.state.service  # type: ignore[no-any-return]


def _client(request: Request) -> str:
    """The client rate limits count, behind the trusted proxies (`web/clients.py`)."""
    peer = request.client.host if request.client else "unknown"
    return client_address(peer, request.headers.get("x-forwarded-for"),
                          request.app.state.trusted_proxies)


def _back(to: str) -> RedirectResponse:
    return RedirectResponse(to, status_code=303)


def _mailed(request: Request, heading: str, outcome: str) -> Response:
    """The answer to the subscribe and sign-in forms (the same whether the address is known)."""
    return render(request, "message.html", {
        "title": f"{heading} – Paperboy", "heading": heading, "message": _MESSAGES[outcome]},
        status_code={"sent": 200, "invalid": 400, "rate_limited": 429,
                     "no_email": 503}[outcome])


def _followed_link(request: Request, read: Any, then: str) -> Response:
    """Sign in the reader an emailed link names, or say why the link does not work."""
    try:
        reader = read()
    except LinkError as error:
        return render(request, "message.html", {"title": "Link not valid", "heading":
                                                "This link does not work",
                                                "message": str(error)}, status_code=400)
    response = _back(then)
    _sessions(request).sign_in(response, reader["id"])
    return response


@router.post("/subscribe")
def subscribe(request: Request, csrf: Csrf = "",
              email: Annotated[str, Form(max_length=320)] = "") -> Response:
    _sessions(request).check_csrf(request, {"csrf": csrf})
    return _mailed(request, "Subscribe", _accounts(request).subscribe(email, _client(request)))


# An emailed link opens a page whose button does the work (a POST): mail scanners and
# browsers that prefetch links GET them, and must not spend a one-use link.
LinkToken = Annotated[str, Form(max_length=500)]


@router.get("/confirm")
def confirm_page(request: Request, token: Annotated[str, Query(max_length=500)] = "",
                 ) -> Response:
    return _link_page(request, "/confirm", token, "Confirm your subscription",
                      "Confirm my address")


@router.post("/confirm")
def confirm(request: Request, token: LinkToken = "", csrf: Csrf = "") -> Response:
    _sessions(request).check_csrf(request, {"csrf": csrf})
    return _followed_link(request, lambda: _accounts(request).confirm(token),
                          "/account?welcome=1")


def _link_page(request: Request, action: str, token: str, heading: str,
               button: str) -> Response:
    return render(request, "link.html", {"title": f"{heading} – Paperboy", "heading": heading,
                                         "action": action, "token": token, "button": button})


@router.get("/signin")
def sign_in_form(request: Request) -> Response:
    return render(request, "signin.html", {"title": "Sign in – Paperboy"})


@router.post("/signin")
def sign_in(request: Request, csrf: Csrf = "",
            email: Annotated[str, Form(max_length=320)] = "") -> Response:
    _sessions(request).check_csrf(request, {"csrf": csrf})
    return _mailed(request, "Sign in",
                   _accounts(request).request_sign_in(email, _client(request)))


@router.get("/signin/link")
def sign_in_link_page(request: Request, token: Annotated[str, Query(max_length=500)] = "",
                      ) -> Response:
    return _link_page(request, "/signin/link", token, "Sign in to Paperboy", "Sign in")


@router.post("/signin/link")
def sign_in_link(request: Request, token: LinkToken = "", csrf: Csrf = "") -> Response:
    _sessions(request).check_csrf(request, {"csrf": csrf})
    return _followed_link(request, lambda: _accounts(request).sign_in(token), "/account")


@router.post("/signout")
def sign_out(request: Request, csrf: Csrf = "") -> Response:
    _sessions(request).check_csrf(request, {"csrf": csrf})
    response = _back("/")
    _sessions(request).sign_out(request, response)
    return response


@router.post("/signout/everywhere")
def sign_out_everywhere(request: Request, csrf: Csrf = "") -> Response:
    _sessions(request).check_csrf(request, {"csrf": csrf})
    reader = signed_in(request)
    response = _back("/")
    _sessions(request).sign_out_everywhere(reader["id"], response)
    return response


@router.get("/account")
def account(request: Request) -> Response:
    return account_page(request)


def account_page(request: Request, *, status_code: int = 200, **shown: Any) -> Response:
    """The account page, with what a form just did (`shown`, e.g. an import's report)."""
    reader = current_reader(request)
    if reader is None:
        return _back("/signin")
    store = _service(request).store
    library = store.library.of_readers([reader["id"]]).get(reader["id"], {})
    saved = store.papers_by_ids([pid for ids in library.values() for pid in ids],
                                columns=("title",))
    collections = [{"name": name, "count": len(library.get(name, [])),
                    "feed": private_feed_url(request, reader, name),
                    "papers": [saved[i] for i in reversed(library.get(name, [])) if i in saved]}
                   for name in in_order(library)]
    return render(request, "account.html", {
        "title": "Your account – Paperboy", "follows": store.readers.follows([reader["id"]]),
        "mutes": store.readers.mutes([reader["id"]]),
        "private_feed": private_feed_url(request, reader),
        "collections": collections, "default_collection": DEFAULT,
        "timezones": sorted(available_timezones()),
        "max_upload_mb": MAX_UPLOAD_BYTES >> 20,
        "welcome": request.query_params.get("welcome") == "1"} | shown,
        status_code=status_code)


@router.post("/account/settings")
def settings(request: Request, digest_hour: Annotated[int, Form(ge=0, le=23)],
             timezone: Annotated[str, Form(max_length=64)], csrf: Csrf = "") -> Response:
    _sessions(request).check_csrf(request, {"csrf": csrf})
    reader = signed_in(request)
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise HTTPException(400, f"unknown time zone {timezone!r}") from None
    _service(request).store.readers.update(reader["id"], digest_hour=digest_hour,
                                           timezone=timezone)
    return _back("/account")


@router.post("/account/follows")
def follow(request: Request, kind: Annotated[str, Form(max_length=16)],
           value: Annotated[str, Form(min_length=1, max_length=500)],
           csrf: Csrf = "", category: Annotated[str, Form(max_length=64)] = "",
           has_code: Annotated[str, Form(max_length=5)] = "") -> Response:
    """Follow a topic (a search, with its category and has-code filters), category or author."""
    _sessions(request).check_csrf(request, {"csrf": csrf})
    reader = signed_in(request)
    filters = {"category": category or None, "has_code": True if has_code == "true" else None}
    try:
        _service(request).follow(reader["id"], kind, value, filters={
            k: v for k, v in filters.items() if v is not None} if kind == "query" else None)
    except ValueError as error:
        raise HTTPException(400, str(error)) from None
    return _back("/account")


@router.post("/account/follows/{follow_id}/delete")
def unfollow(request: Request, follow_id: int, csrf: Csrf = "") -> Response:
    _sessions(request).check_csrf(request, {"csrf": csrf})
    _service(request).store.readers.unfollow(signed_in(request)["id"], follow_id)
    return _back("/account")


@router.post("/account/mutes")
def mute(request: Request, kind: Annotated[str, Form(max_length=16)],
         value: Annotated[str, Form(min_length=1, max_length=500)],
         csrf: Csrf = "") -> Response:
    """Mute a word, author or category: its papers leave the digest and recommendations."""
    _sessions(request).check_csrf(request, {"csrf": csrf})
    reader = signed_in(request)
    service = _service(request)
    try:
        service.store.readers.mute(reader["id"], kind, value, service.clock())
    except ValueError as error:
        raise HTTPException(400, str(error)) from None
    return _back("/account#mutes")


@router.post("/account/mutes/{mute_id}/delete")
def unmute(request: Request, mute_id: int, csrf: Csrf = "") -> Response:
    _sessions(request).check_csrf(request, {"csrf": csrf})
    _service(request).store.readers.unmute(signed_in(request)["id"], mute_id)
    return _back("/account#mutes")


@router.post("/account/pause")
def pause(request: Request, csrf: Csrf = "") -> Response:
    _sessions(request).check_csrf(request, {"csrf": csrf})
    _service(request).store.readers.update(signed_in(request)["id"], status="paused")
    return _back("/account")


@router.post("/account/resume")
def resume(request: Request, csrf: Csrf = "") -> Response:
    _sessions(request).check_csrf(request, {"csrf": csrf})
    _service(request).store.readers.update(signed_in(request)["id"], status="active",
                                           bounces=0)
    return _back("/account")


@router.post("/account/delete")
def delete_account(request: Request, csrf: Csrf = "",
                   confirm: Annotated[str, Form(max_length=10)] = "") -> Response:
    _sessions(request).check_csrf(request, {"csrf": csrf})
    reader = signed_in(request)
    if confirm != "yes":
        raise HTTPException(400, "tick the box to confirm that everything should be deleted")
    _service(request).store.readers.delete(reader["id"])
    request.state.reader = None  # the page below is for nobody
    response = render(request, "message.html", {
        "title": "Account deleted", "heading": "Your account is deleted",
        "message": "Your address, follows, library and votes are gone from this Paperboy."})
    _sessions(request).sign_out(request, response)
    return response


@router.post("/papers/{paper_id:path}/{action}")
def paper_action(request: Request, paper_id: str, action: str, csrf: Csrf = "",
                 next: Annotated[str, Form(max_length=500)] = "",  # noqa: A002
                 collection: Annotated[str | None, Form(max_length=200)] = None) -> Response:
    """save, unsave, upvote, unvote, dismiss: then back to the paper, or to the page of this
    site `next` names (cards on lists and `/for-you` offer them too). Saving goes to the
    `collection` named (the default one unless named); unsaving takes the paper out of the
    named collection, or out of every one."""
    _sessions(request).check_csrf(request, {"csrf": csrf})
    reader = signed_in(request)
    store = _service(request).store
    paper = store.paper(paper_id)
    if paper is None:
        raise HTTPException(404, f"no paper with id {paper_id!r}")
    now, pid, rid = _service(request).clock(), paper["id"], reader["id"]
    actions = {
        "save": lambda: store.library.save(rid, pid, now, collection),
        "unsave": lambda: store.library.unsave(rid, pid, collection),
        "upvote": lambda: store.signals.vote(reader_key(rid), pid, now),
        "unvote": lambda: store.signals.withdraw(reader_key(rid), pid, now),
        "dismiss": lambda: store.readers.dismiss(rid, pid, now),
    }
    if action not in actions:
        raise HTTPException(404, f"no action {action!r} on papers")
    try:
        actions[action]()
    except CollectionError as error:
        raise HTTPException(400, str(error)) from None
    if action in ("upvote", "unvote") and request.headers.get("HX-Request") == "true":
        # htmx on a card: the button again, with the new count and the other verb
        return render(request, "_vote.html", {
            "paper": {"id": pid, "upvotes": store.signals.votes_of([pid]).get(pid, 0)},
            "voted": action == "upvote", "here": next})
    if next == "/for-you" and request.headers.get("HX-Request") == "true":
        # htmx on /for-you: the paper's place on the page says what was done
        said = {"save": f"Saved to {collection_name(collection)}",
                "unsave": "Removed from your library",
                "upvote": "Upvoted", "unvote": "Vote withdrawn",
                "dismiss": "Dismissed: papers like it come less"}[action]
        return HTMLResponse(f'<div class="for-you-item done" role="status">{html.escape(said)}: '
                            f'<a href="/papers/{html.escape(pid)}">'
                            f"{html.escape(paper['title'])}</a>.</div>")
    local = next.startswith("/") and not next.startswith("//") and "\\" not in next
    return _back(next if local else f"/papers/{pid}")


@router.get("/unsubscribe")
def unsubscribe_page(request: Request, token: str = "") -> Response:
    return render(request, "unsubscribe.html", {"title": "Unsubscribe – Paperboy",
                                                "token": token})


@router.post("/unsubscribe")
def unsubscribe(request: Request, token: str = "") -> Response:
    """One click (RFC 8058): the signed token is the authority, no session or CSRF needed."""
    try:
        _accounts(request).unsubscribe(token)
    except LinkError as error:
        return render(request, "message.html", {"title": "Link not valid", "heading":
                                                "This link does not work",
                                                "message": str(error)}, status_code=400)
    return render(request, "message.html", {
        "title": "Unsubscribed", "heading": "You are unsubscribed",
        "message": "No more digests will be sent. Your library stays; sign in to resume."})
