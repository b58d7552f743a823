"""A reader's library on the web: importing a reference manager's export into a collection,
exporting a collection or the whole library (the account page's links and the JSON API), and
renaming, merging and deleting collections. The account page (web/account.py) shows them."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Query, Request, UploadFile
from fastapi.responses import RedirectResponse, Response

from paperboy.readers.library_formats import EXPORT_FORMATS, LibraryFileError
from paperboy.store.library import (
    DEFAULT,
    NAME_LENGTH,
    CollectionError,
    CollectionNotFound,
    collection_name,
)
from paperboy.web.account import MAX_UPLOAD_BYTES, account_page
from paperboy.web.errors import documented
from paperboy.web.routes import OneTrip
from paperboy.web.session import current_reader, signed_in

router = APIRouter(route_class=OneTrip)
Csrf = Annotated[str, Form(max_length=100)]
Name = Annotated[str, Form(max_length=2 * NAME_LENGTH)]
CollectionQuery = Annotated[str | None, Query(
    max_length=2 * NAME_LENGTH, description="one collection (all of them when left out)")]
_BY_EXTENSION = {ext: (fmt, media) for fmt, (ext, media) in EXPORT_FORMATS.items()}


def _checked(request: Request, csrf: str) -> dict[str, Any]:
    request.app.state.sessions.check_csrf(request, {"csrf": csrf})
    return signed_in(request)


def _known(request: Request, reader: dict[str, Any], collection: str | None) -> str | None:
    """The stored name of a collection the reader has; a 404 naming it when they have none."""
    if collection is None:
        return None
    try:
        return request.app.state.service.store.library.existing(  # type: ignore[no-any-return]
            reader["id"], collection)
    except CollectionNotFound as error:
        raise HTTPException(404, str(error)) from None
    except CollectionError as error:
        raise HTTPException(400, str(error)) from None


def _export(request: Request, reader: dict[str, Any], fmt: str, media: str,
            collection: str | None) -> Response:
    name = _known(request, reader, collection)
    text = request.app.state.service.export_library(reader["id"], fmt, collection=name)
    stem = "paperboy-library" + (f"-{_file_safe(name)}" if name else "")
    return Response(text, media_type=f"{media}; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="{stem}.{EXPORT_FORMATS[fmt][0]}"'})


def _file_safe(name: str) -> str:
    return "".join(ch if ch.isascii() and ch.isalnum() else "-" for ch in name).strip("-") \
        or "collection"


@router.post("/account/library/import", include_in_schema=False)
def import_library(request: Request, file: UploadFile, csrf: Csrf = "",
                   collection: Name = "") -> Response:
    """Add the papers of an uploaded BibTeX, RIS, CSL-JSON file or list of ids to a collection
    (the default one unless named); the account page then shows what matched and what did not
    (with its line)."""
    reader = _checked(request, csrf)
    data = file.file.read(MAX_UPLOAD_BYTES + 1)
    name = (file.filename or "the file")[:100]
    try:
        if len(data) > MAX_UPLOAD_BYTES:
            raise LibraryFileError(f"{name}: over {MAX_UPLOAD_BYTES >> 20} MB")
        report = request.app.state.service.import_library(reader["id"], data, name=name,
                                                           collection=collection)
    except (LibraryFileError, CollectionError) as error:
        return account_page(request, import_error=str(error), status_code=400)
    return account_page(request, imported=report.as_dict() | {
        "name": name, "collection": collection_name(collection)})


@router.get("/account/library.{extension}", include_in_schema=False)
def export_library(request: Request, extension: str,
                   collection: CollectionQuery = None) -> Response:
    """The library, or one collection, as BibTeX (.bib), RIS (.ris) or CSL-JSON (.json)."""
    if extension not in _BY_EXTENSION:
        raise HTTPException(404, "the library exports as .bib, .ris or .json")
    reader = current_reader(request)
    if reader is None:
        return RedirectResponse("/signin", status_code=303)
    return _export(request, reader, *_BY_EXTENSION[extension], collection)


@router.post("/account/collections/rename", include_in_schema=False)
def rename_collection(request: Request, name: Name, new_name: Name,
                      csrf: Csrf = "") -> Response:
    """Rename a collection; onto the name of another, the two become one."""
    reader = _checked(request, csrf)
    old = _known(request, reader, name)
    assert old is not None
    try:
        if old == DEFAULT:
            raise CollectionError(f"{DEFAULT} is where papers go when no collection is named, "
                                  f"so it keeps its name: merge it into another instead")
        request.app.state.service.store.library.rename(reader["id"], old, new_name)
    except CollectionError as error:
        raise HTTPException(400, str(error)) from None
    return RedirectResponse("/account#library", status_code=303)


@router.post("/account/collections/merge", include_in_schema=False)
def merge_collections(request: Request, name: Name, into: Name, csrf: Csrf = "") -> Response:
    """Move every paper of one collection into another; the first is then gone."""
    reader = _checked(request, csrf)
    source, target = _known(request, reader, name), _known(request, reader, into)
    assert source is not None and target is not None
    request.app.state.service.store.library.merge(reader["id"], source, target)
    return RedirectResponse("/account#library", status_code=303)


@router.post("/account/collections/delete", include_in_schema=False)
def delete_collection(request: Request, name: Name, csrf: Csrf = "") -> Response:
    """Delete a collection; its papers stay in the other collections that hold them."""
    reader = _checked(request, csrf)
    known = _known(request, reader, name)
    assert known is not None
    request.app.state.service.store.library.delete(reader["id"], known)
    return RedirectResponse("/account#library", status_code=303)


@router.get("/api/library", tags=["readers"], responses=documented(401))
def library_api(request: Request) -> dict[str, Any]:
    """The signed-in reader's (by the session cookie) collections, each with its papers' ids,
    newest saved first; `default` names the collection a save without one goes to."""
    reader = signed_in(request)
    library = request.app.state.service.store.library
    return {"default": DEFAULT, "collections": [
        {"name": name, "count": count, "papers": library.papers(reader["id"], name)}
        for name, count in library.collections(reader["id"]).items()]}


@router.get("/api/library/export", tags=["readers"], responses=documented(400, 401, 404) | {
    200: {"description": "the export, as a file to download", "content": {
        media: {"schema": {"type": "string"}} for _, media in EXPORT_FORMATS.values()}}})
def library_export_api(
        request: Request,
        format: Annotated[str, Query(  # noqa: A002
            pattern="^(bibtex|ris|csl-json)$", description="bibtex, ris or csl-json")] = "bibtex",
        collection: CollectionQuery = None) -> Response:
    """The signed-in reader's library, or one collection of it, as BibTeX, RIS or CSL-JSON,
    as the account page's download links give it."""
    reader = signed_in(request)
    return _export(request, reader, format, EXPORT_FORMATS[format][1], collection)
