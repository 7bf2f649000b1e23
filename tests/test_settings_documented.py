"""Every setting has one ``KIRIN_*`` variable, documented; every documented variable exists.

A setting is documented by a row of a table in README.md or docs/*.md whose first cell names its
variable (with its default and meaning). Any other ``KIRIN_*`` the documents mention must be a
variable the package reads, a pattern matching some, or one of the few listed below with why.
"""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path

from pydantic import AliasChoices, BaseModel
from pydantic_settings import BaseSettings

from kirin_video.config import ClientSettings, Settings

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
#: A variable's name, or a pattern of names (``KIRIN_FAST_*``, ``KIRIN_*INFERENCE_STEPS``).
VARIABLE = re.compile(r"KIRIN_[A-Z0-9_*]*")
#: ``KIRIN_*`` names the documents use that no settings class reads, and why they are there.
NOT_SETTINGS = {
    "KIRIN_TEST_POSTGRES": "the test suite's PostgreSQL server (README, tests/conftest.py)",
    "KIRIN_KEY": "a shell variable holding a key in docs/api.md's vtrix example",
    "KIRIN_X": "a placeholder for any variable in docs/reliability.md's --env example",
}


def variables(model: type[BaseModel], prefix: str) -> dict[str, list[str]]:
    """Each field's (dotted) name and the environment variables pydantic-settings reads for it.

    A group of settings that is itself a ``BaseSettings`` reads the environment under its own
    prefix; any other field is one variable (a nested plain model is read as JSON).
    """
    found: dict[str, list[str]] = {}
    for name, field in model.model_fields.items():
        group = field.annotation
        if isinstance(group, type) and issubclass(group, BaseSettings):
            inner = variables(group, _prefix(group))
            found.update({f"{name}.{key}": names for key, names in inner.items()})
        elif isinstance(field.validation_alias, AliasChoices):
            found[name] = [c.upper() for c in field.validation_alias.choices if isinstance(c, str)]
        elif isinstance(field.validation_alias, str):
            found[name] = [field.validation_alias.upper()]
        else:
            found[name] = [f"{prefix}{name}".upper()]
    return found


def _prefix(settings: type[BaseSettings]) -> str:
    return str(settings.model_config.get("env_prefix", ""))


SETTINGS = variables(Settings, _prefix(Settings))
CLIENT = variables(ClientSettings, _prefix(ClientSettings))
KNOWN = {name for names in (*SETTINGS.values(), *CLIENT.values()) for name in names}


def _texts() -> dict[Path, str]:
    return {path: path.read_text(encoding="utf-8") for path in DOCUMENTS}


def documented_in_tables() -> set[str]:
    """Variables named in the first cell of a Markdown table row."""
    names: set[str] = set()
    for text in _texts().values():
        for line in text.splitlines():
            cells = line.split("|")
            if line.startswith("|") and len(cells) > 2:
                names.update(VARIABLE.findall(cells[1]))
    return names


def mentioned() -> dict[str, list[str]]:
    """Every ``KIRIN_*`` name or pattern in the documents, with the files that use it."""
    names: dict[str, list[str]] = {}
    for path, text in _texts().items():
        for name in set(VARIABLE.findall(text)):
            names.setdefault(name, []).append(str(path.relative_to(ROOT)))
    return names


def test_every_setting_has_exactly_one_variable() -> None:
    several = {field: names for field, names in {**SETTINGS, **CLIENT}.items() if len(names) != 1}
    assert several == {}


def test_every_setting_is_documented_in_a_table() -> None:
    tables = documented_in_tables()
    missing = sorted(names[0] for names in SETTINGS.values() if names[0] not in tables)
    assert missing == [], "add a row for each to README.md's Configuration table or docs/*.md"


def test_the_client_settings_are_documented() -> None:
    names = mentioned()
    assert sorted(n for values in CLIENT.values() for n in values if n not in names) == []


def test_every_documented_variable_exists() -> None:
    unknown = {
        name: files
        for name, files in mentioned().items()
        if name not in KNOWN and name not in NOT_SETTINGS and not _is_pattern_of_some(name)
    }
    assert unknown == {}


def test_every_listed_exception_is_still_mentioned_and_is_no_setting() -> None:
    names = mentioned()
    assert sorted(n for n in NOT_SETTINGS if n not in names or n in KNOWN) == []


def _is_pattern_of_some(name: str) -> bool:
    """``KIRIN_FAST_*``, or a bare ``KIRIN_`` prefix: true when some variable matches."""
    pattern = name if "*" in name else f"{name}*" if name.endswith("_") else None
    return pattern is not None and any(fnmatch.fnmatchcase(v, pattern) for v in KNOWN)
