"""The rule every text a request carries must keep: Unicode that any database can store.

A lone surrogate (``"\\ud800"`` in JSON) is not Unicode: it cannot be encoded as UTF-8, so no
answer or database can hold it. NUL (``"\\u0000"``) is refused by PostgreSQL's text. Both are
refused at the door, by field name, on every surface; text stored before this rule is made
readable (``readable``) so that such a task can still be read and listed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from kirin_video.contract.errors import InvalidRequest, QueryInvalid
from kirin_video.contract.params import shown

_FORBIDDEN = re.compile("[\x00\ud800-\udfff]")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
RULE = "must be text without NUL characters or lone surrogates"


def fault(value: str) -> str | None:
    """What breaks the rule in ``value`` and where, or None when it keeps it."""
    if value.isascii():  # base64 images and most text: a NUL is all there can be, found fast
        at = value.find("\x00")
        return None if at < 0 else f"a NUL character at character {at + 1}"
    found = _FORBIDDEN.search(value)
    if found is None:
        return None
    char = found.group()
    what = "a NUL character" if char == "\x00" else f"a lone surrogate U+{ord(char):04X}"
    return f"{what} at character {found.start() + 1}"


def check_text(value: str, *, field: str, query: bool = False, names: bool = False) -> str:
    """``value`` if it keeps the rule, else the contract's 400 naming ``field``.

    ``names``: ``value`` is a parameter's name sent under ``field``, not its value.
    """
    problem = fault(value)
    if problem is None:
        return value
    error = QueryInvalid if query else InvalidRequest
    rule = f"parameter names {RULE}" if names else RULE
    raise error(f"{field}: {rule}; got {shown(value)} ({problem})")


def check_tree(document: Any) -> None:
    """Every key and string of a decoded JSON document keeps the rule; errors name the path.

    Walked with a stack, not by recursion: a document nested as deep as the parser allows
    must not exhaust the interpreter's stack here.
    """
    stack: list[tuple[str, Any]] = [("", document)]
    while stack:
        field, value = stack.pop()
        if isinstance(value, str):
            check_text(value, field=field or "body")
        elif isinstance(value, Mapping):
            for key in value:
                if isinstance(key, str):
                    check_text(key, field=field or "body", names=True)
            children = [(f"{field}.{key}" if field else str(key), v) for key, v in value.items()]
            stack.extend(reversed(children))  # so the first bad field is the one named
        elif isinstance(value, list | tuple):
            items = [(f"{field or 'body'}[{i}]", item) for i, item in enumerate(value)]
            stack.extend(reversed(items))


def check_pairs(pairs: Iterable[tuple[str, str]], *, where: str) -> None:
    """Query or path parameters keep the rule; ``where`` says which (``query``, ``path``)."""
    for key, value in pairs:
        check_text(key, field=where, query=True, names=True)
        check_text(value, field=key, query=True)


def readable(value: str | None) -> str | None:
    """Stored text as an answer can carry it: a lone surrogate (from older versions) as U+FFFD."""
    if value is None:
        return None
    return _LONE_SURROGATE.sub("\ufffd", value)
