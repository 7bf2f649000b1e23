"""A create request's fields, read from the multipart form the SDK sends or from a JSON body.

A form's text fields are strings: the few typed parameters are read as their type where they
spell one, else left for the contract's rules to refuse by name. Lists come as ``name[]``,
objects as ``name[key]`` (``qs``'s brackets, what the SDK writes for ``extra_body``), and a field
``extra_body`` may carry more parameters as one JSON object.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

from kirin_video.contract import catalog as c
from kirin_video.contract.errors import InvalidRequest
from kirin_video.contract.params import shown
from kirin_video.contract.text import check_tree
from kirin_video.surfaces.intake import read_json

#: A text field may hold a whole image as base64 (4 characters per 3 bytes), with room to spare.
MAX_PART_BYTES = 4 * (c.MAX_IMAGE_BYTES // 3 + 1) + 64 * 1024
#: Files one request may carry: a first and a last frame, or the references, and one too many
#: (so that a request with one reference too many is refused for that, by name).
MAX_FILES = c.MAX_REFERENCE_IMAGES + 2
MAX_FIELDS = 100

#: Fields that take a list (more reference images): a plain field sent again adds to it, the
#: ordinary form encoding of a list (LiteLLM's), as ``name[]`` is the SDK's.
LIST_FIELDS = ("input_references", "image_list")

_FORMS = ("multipart/form-data", "application/x-www-form-urlencoded")
_INTEGER = re.compile(r"[0-9]{1,20}")
_NUMBER = re.compile(r"-?[0-9]{1,20}(?:\.[0-9]{1,20})?(?:[eE][+-]?[0-9]{1,3})?")
_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
_BRACKET = re.compile(r"\[([^\[\]]*)\]")


@dataclass(frozen=True)
class Upload:
    """An image sent as a file part."""

    field: str
    data: bytes

    def __repr__(self) -> str:
        return f"a file of {len(self.data)} bytes"


def _number(text: str) -> Any:
    """JSON's spelling of a number only: ``float()`` also takes ``１``, ``1_0`` and ``inf``."""
    return float(text) if _NUMBER.fullmatch(text.strip()) else text


def _integer(text: str) -> Any:
    """ASCII digits, a bounded count: ``int()`` also takes ``²`` and fails past 4,300 digits."""
    return int(text) if _INTEGER.fullmatch(text.strip()) else text


def _flag(text: str) -> Any:
    return {"true": True, "false": False}.get(text.strip().lower(), text)


#: Typed parameters: a form sends their text, which is read as the type it spells.
_TYPED: dict[str, Callable[[str], Any]] = {
    "cfg_scale": _number,
    "seed": _integer,
    "watermark": _flag,
}


async def read_fields(request: Request) -> dict[str, Any]:
    """The request's parameters, ``extra_body``'s merged in, files as ``Upload``."""
    content_type = request.headers.get("content-type", "").lower()
    if content_type.startswith(_FORMS):
        fields = await _form_fields(request)
    else:
        body = await read_json(request)
        if not isinstance(body, dict):
            raise InvalidRequest(
                f"body: must be a JSON object or a multipart form; got {shown(body)}"
            )
        fields = dict(body)
    fields = _merge_extra_body(fields)
    check_tree(fields)  # the form's fields and extra_body's, as a JSON body's are
    return fields


async def _form_fields(request: Request) -> dict[str, Any]:
    try:
        async with request.form(
            max_files=MAX_FILES, max_fields=MAX_FIELDS, max_part_size=MAX_PART_BYTES
        ) as form:
            items = [(key, await _value(key, value)) for key, value in form.multi_items()]
    except HTTPException as exc:  # what the form parser refuses, in our words
        raise InvalidRequest(f"body: {_form_rule(str(exc.detail))}") from exc
    except UnicodeError as exc:  # a charset (punycode, …) that cannot decode the form's text
        raise InvalidRequest(
            "body: a form's fields must be text in its charset (send utf-8); got bytes that "
            "do not decode"
        ) from exc
    fields: dict[str, Any] = {}
    for key, value in items:
        _place(fields, key, value)
    return fields


async def _value(key: str, value: str | UploadFile) -> Any:
    if isinstance(value, UploadFile):
        return Upload(key, await value.read())
    read = _TYPED.get(key)
    return read(value) if read else value


def _form_rule(detail: str) -> str:
    """The rule a form broke, from the parser's refusal (whose wording is the library's)."""
    broken = {
        "Field exceeded": f"a form's field may hold at most {MAX_PART_BYTES} bytes; got more",
        "Part exceeded": f"a form's part may hold at most {MAX_PART_BYTES} bytes; got more",
        "Too many fields": f"a form may hold at most {MAX_FIELDS} fields; got more",
        "Too many files": f"a form may hold at most {MAX_FILES} files; got more",
        "The Content-Disposition": "every part of a form must name its field; got one without",
        "Missing boundary": "a multipart form's Content-Type must give its boundary; got none",
    }
    found = next((rule for start, rule in broken.items() if detail.startswith(start)), None)
    return found or "must be a well-formed multipart form; got one that could not be read"


def _place(fields: dict[str, Any], key: str, value: Any) -> None:
    """Put one form field where its bracketed name says: ``a``, ``a[]``, ``a[k]``, ``a[][k]``."""
    parsed = _KEY.match(key)
    if parsed is None:
        raise InvalidRequest(
            f"body: a form field's name must be name, name[], name[key] or name[][key]; "
            f"got {shown(key)}"
        )
    name, path = parsed.group(1), _BRACKET.findall(parsed.group(2))
    if not path and name in LIST_FIELDS:
        _held(fields, name, list).append(value)
    elif not path:
        if name in fields:
            raise _twice(name, bracketed=isinstance(fields[name], list | dict))
        fields[name] = value
    elif path == [""]:
        _held(fields, name, list).append(value)
    elif len(path) == 1:
        _held(fields, name, dict)[path[0]] = value
    elif len(path) == 2 and path[0] == "" and path[1]:
        items = _held(fields, name, list)
        if not items or not isinstance(items[-1], dict) or path[1] in items[-1]:
            items.append({})  # each repeat of a key starts the next object
        items[-1][path[1]] = value
    else:
        raise InvalidRequest(
            f"{name}: a form reads name[] and name[][key], no deeper; got {shown(key)} "
            "(send it in extra_body as JSON)"
        )


def _held(fields: dict[str, Any], name: str, kind: type) -> Any:
    """The list or object that a bracketed field adds to."""
    held = fields.setdefault(name, kind())
    if not isinstance(held, kind):
        raise _twice(name, bracketed=True)
    return held


def _twice(name: str, *, bracketed: bool) -> InvalidRequest:
    if bracketed:
        return InvalidRequest(f"{name}: must be sent one way; got both {name} and {name}[...]")
    return InvalidRequest(f"{name}: must be sent once; got it twice or more")


def _merge_extra_body(fields: dict[str, Any]) -> dict[str, Any]:
    """``extra_body`` (a JSON object, or its text in a form) adds its parameters."""
    extra = fields.pop("extra_body", None)
    if extra is None:
        return fields
    if isinstance(extra, str):
        try:
            extra = json.loads(extra)
        except (json.JSONDecodeError, RecursionError, ValueError) as exc:
            raise InvalidRequest(
                f"extra_body: must be a JSON object; got invalid JSON {shown(extra)}"
            ) from exc
    if not isinstance(extra, dict):
        raise InvalidRequest(f"extra_body: must be a JSON object; got {shown(extra)}")
    both = sorted(set(extra) & set(fields))
    if both:
        raise InvalidRequest(
            f"extra_body: must not repeat a parameter the request sends itself; "
            f"got {', '.join(both)} twice"
        )
    return {**fields, **extra}
