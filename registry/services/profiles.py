"""Jurisdiction profiles (the legal clocks), loaded from data files, not code."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

DEFAULT_FILE = Path(__file__).resolve().parent.parent / "profiles" / "jurisdictions.json"
UNITS = ("working", "calendar")
#: What starts a deadline: the goods presented or detained, the parties notified, or (a small
#: consignment) the declarant's objection recorded and the rights holder informed of it.
STARTS = ("presented", "detained", "notified", "declarant_objected", "holder_informed")


@dataclass(frozen=True)
class DeadlineRule:
    key: str
    label: str
    basis: str
    start: str  # one of STARTS
    days: int
    unit: str = "working"
    perishable_days: int | None = None
    extension_days: int = 0
    procedures: tuple[str, ...] = ()  # empty: every procedure
    #: Actions that meet the deadline; an open deadline past its date is overdue.
    met_by: tuple[str, ...] = ()
    #: Silence until the date counts as the declarant's consent to destruction.
    deemed_consent: bool = False
    #: A period given to a party (the importer's time to answer), not a step customs must take:
    #: never overdue, it simply runs out.
    party_period: bool = False


@dataclass(frozen=True)
class Profile:
    code: str
    name: str
    procedures: tuple[str, ...]
    legal_bases: tuple[str, ...]
    deadlines: tuple[DeadlineRule, ...] = field(default_factory=tuple)
    #: Declaration fields a detention notice may disclose to the rights holder, and why.
    disclose_fields: tuple[str, ...] = ()
    disclose_basis: str = ""


class ProfileError(ValueError):
    pass


def _rule(data: dict, where: str) -> DeadlineRule:
    try:
        rule = DeadlineRule(
            key=data["key"], label=data["label"], basis=data.get("basis", ""), start=data["from"],
            days=int(data["days"]), unit=data.get("unit", "working"),
            perishable_days=int(data["perishable_days"]) if "perishable_days" in data else None,
            extension_days=int(data.get("extension_days", 0)),
            procedures=tuple(data.get("procedures", ())),
            met_by=tuple(a for a in str(data.get("met_by", "")).split("|") if a),
            deemed_consent=bool(data.get("deemed_consent", False)),
            party_period=bool(data.get("party_period", False)))
    except (KeyError, TypeError, ValueError) as exc:
        raise ProfileError(f"{where}: {exc!r} in a deadline") from None
    if rule.unit not in UNITS or rule.start not in STARTS or rule.days < 0:
        raise ProfileError(f"{where}: deadline {rule.key} needs unit in {UNITS}, from in {STARTS}, days >= 0")
    return rule


def parse_profiles(text: str, source: str = "profiles") -> dict[str, Profile]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ProfileError(f"{source} is not valid JSON: {exc}") from None
    profiles = {}
    for code, data in document.items():
        if code.startswith("_"):
            continue
        where = f"{source}: profile {code}"
        profiles[code] = Profile(
            code=code, name=data.get("name", code), procedures=tuple(data.get("procedures", ("standard",))),
            legal_bases=tuple(data.get("legal_bases", ("ex_officio",))),
            deadlines=tuple(_rule(d, where) for d in data.get("deadlines", ())),
            disclose_fields=tuple(data.get("disclose_on_notify", {}).get("fields", ())),
            disclose_basis=data.get("disclose_on_notify", {}).get("basis", ""))
    return profiles


@lru_cache(maxsize=8)
def load_profiles(extra_file: str | None = None) -> dict[str, Profile]:
    """The shipped profiles, with an administrator's file (if any) added on top."""
    profiles = parse_profiles(DEFAULT_FILE.read_text(), str(DEFAULT_FILE))
    if extra_file:
        profiles.update(parse_profiles(Path(extra_file).read_text(), extra_file))
    return profiles
