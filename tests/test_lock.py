"""The venv matches constraints.txt, so a release upstream changes nothing until `make lock`."""

from __future__ import annotations

import tomllib
from importlib import metadata
from pathlib import Path

from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import NormalizedName, canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "constraints.txt"
PROJECT = canonicalize_name("kirin-video")


def locked() -> dict[NormalizedName, Requirement]:
    """Each pin in the lock by normalized name; comments and blank lines skipped."""
    pins: dict[NormalizedName, Requirement] = {}
    for line in LOCK.read_text().splitlines():
        text = line.split("#", 1)[0].strip()
        if text:
            requirement = Requirement(text)
            pins[canonicalize_name(requirement.name)] = requirement
    return pins


def installed() -> dict[NormalizedName, str]:
    """The version of every distribution in this interpreter's environment."""
    return {canonicalize_name(d.metadata["Name"]): d.version for d in metadata.distributions()}


def _applies(marker: Marker | None, extras: frozenset[str]) -> bool:
    return marker is None or any(marker.evaluate({"extra": e}) for e in extras | {""})


def dev_closure() -> set[NormalizedName]:
    """Every distribution that `pip install -e '.[dev]'` pulled in, the project itself left out."""
    seen: set[tuple[NormalizedName, frozenset[str]]] = set()
    todo = [(PROJECT, frozenset({"dev"}))]
    while todo:
        name, extras = todo.pop()
        if (name, extras) in seen:
            continue
        seen.add((name, extras))
        for text in metadata.requires(name) or []:
            requirement = Requirement(text)
            if _applies(requirement.marker, extras):
                todo.append((canonicalize_name(requirement.name), frozenset(requirement.extras)))
    return {name for name, _ in seen} - {PROJECT}


def test_every_pin_is_exact() -> None:
    loose = [str(r) for r in locked().values() if [s.operator for s in r.specifier] != ["=="]]
    assert not loose, f"constraints.txt: every line must pin one version (==), got {loose}"


def test_installed_versions_are_the_locked_ones() -> None:
    versions = installed()
    drift = [
        f"{name}: installed {versions[name]}, constraints.txt has {pin.specifier}"
        for name, pin in sorted(locked().items())
        if name in versions and not pin.specifier.contains(versions[name], prereleases=True)
    ]
    assert not drift, "the venv drifted from the lock (run `make install`): " + "; ".join(drift)


def test_lock_covers_the_whole_dev_install() -> None:
    missing = sorted(dev_closure() - locked().keys())
    assert not missing, f"constraints.txt lacks {missing}: run `make lock`"


def test_lock_satisfies_pyproject_ranges() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"].values()
    declared = [*project["dependencies"], *(text for group in extras for text in group)]
    pins = locked()
    stale = []
    for text in declared:
        wanted = Requirement(text)
        name = canonicalize_name(wanted.name)
        pin = pins.get(name)
        if name != PROJECT and (pin is None or _pinned(pin) not in wanted.specifier):
            stale.append(f"{text} (locked: {pin or 'nothing'})")
    assert not stale, f"constraints.txt is older than pyproject.toml: {stale}; run `make lock`"


def _pinned(requirement: Requirement) -> str:
    return next(iter(requirement.specifier)).version
