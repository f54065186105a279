"""Detention notices to rights holders: recorded with the transition, delivered after commit.

A notice row is written in the same transaction as the "parties notified" step, so nothing
acknowledged is lost; delivery (SMTP or the outbox) happens after the commit and is retried
by the periodic job for any notice still pending.
"""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from email.message import EmailMessage
from email.utils import make_msgid

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.models import DetentionCase, Notice, User
from registry.services import audit
from registry.services.profiles import Profile

FIELD_LABELS = {"declarant": "Declarant", "consignor": "Consignor or exporter", "consignee": "Consignee or importer",
                "manufacturer": "Manufacturer as declared", "origin_country": "Country of origin",
                "document_number": "Transport document", "quantity": "Quantity declared"}


def plain_number(value) -> str:
    """A declared number as people read it: a quantity stored as 200.000 is "200" (read in much
    of Europe as two hundred thousand), 12.500 is "12.5", never in exponent form (0.00001, not
    1e-05); text that is no number stays as it is."""
    if value is None or value == "":
        return ""
    try:
        # A float by its shortest repr: 99999999999.99 stays that, not "1e+11".
        number = value if isinstance(value, Decimal) else Decimal(repr(value) if isinstance(value, float) else str(value))
    except (InvalidOperation, ValueError):
        return str(value)
    return format(number.normalize(), "f") if number.is_finite() else str(value)


#: What a detention notice asks of the rights holder.
ANSWER_INSTRUCTION = "Answer in the registry: confirm the infringement or say the goods are genuine, before the deadline."
#: What the notice to a small consignment's holder asks, once the declarant objected (Art. 26(8)-(9)).
PROCEEDINGS_INSTRUCTION = ("The declarant objects to the destruction of these goods. If you have started court "
                           "proceedings to decide whether they infringe your right, tell customs in the registry "
                           "before the deadline, with the court and its reference; otherwise the goods are released.")


#: What informing a small consignment's holder of the declarant's objection discloses beyond the
#: goods: nothing unasked. Customs tell the quantity and nature of the goods (Art. 26(8)); the
#: parties' names and addresses only when the holder asks (and Art. 17(4) does not apply, 26(2)).
SMALL_CONSIGNMENT_BASIS = "Art. 26(8): the quantity and nature of the goods"


def record_notices(session: Session, actor: User | None, case: DetentionCase, profile: Profile,
                   deadline_text: str, *, instruction: str | None = None, disclose: bool = True) -> list[Notice]:
    """Write a notice for each of the holder's contacts (or one in-app notice without any);
    ``instruction`` says what the holder is asked to do (by default: answer the detention), and
    ``disclose`` whether the profile's declaration fields are disclosed with it (a small
    consignment's holder gets none of them)."""
    if case.organisation is None:
        return []  # an ex officio case without a known right holder: nobody to notify here
    check = case.check
    disclosed = {}
    basis = profile.disclose_basis if disclose else SMALL_CONSIGNMENT_BASIS
    for field in profile.disclose_fields if disclose else ():
        value = getattr(check, field, None)
        if value not in (None, "", []):
            disclosed[field] = plain_number(value)
    lines = [
        f"Customs have detained goods that may infringe your right {case.right.label if case.right else ''}.",
        "",
        f"Case: #{case.id} ({profile.name})",
        f"Goods: {case.goods_description}" + (f", {plain_number(case.goods_quantity)} {case.goods_unit}".rstrip()
                                              if case.goods_quantity is not None else ""),
        f"Detained on: {case.detained_on.isoformat()} by {case.office}",
        f"Photos: {len(check.photos)} (in the case, signed-in holders only)",
        f"Your deadline: {deadline_text}",
    ]
    if disclosed:
        lines += ["", f"Disclosed to you under {basis}:"]
        lines += [f"  {FIELD_LABELS.get(k, k)}: {v}" for k, v in disclosed.items()]
    lines += ["", instruction or ANSWER_INSTRUCTION]
    body = "\n".join(lines)
    subject = f"Detention notice: case #{case.id}, {case.right.mark_text if case.right else 'goods detained'}"
    contacts = case.organisation.contacts or [None]
    notices = []
    for contact in contacts:
        notice = Notice(case_id=case.id, organisation_id=case.organisation_id,
                        recipient=contact.email if contact else "", subject=subject, body=body,
                        disclosed={"fields": disclosed, "basis": basis},
                        delivery="pending" if contact else "in-app")
        session.add(notice)
        notices.append(notice)
    session.flush()
    audit.record(session, actor, "case.disclose", object_type="case", object_id=case.id,
                 organisation_id=case.organisation_id,
                 after={"to": [n.recipient or "in-app" for n in notices], "fields": sorted(disclosed),
                        "basis": basis})
    return notices


def deliver_pending(session: Session, mailer, *, sender: str = "no-reply@registry.local") -> int:
    """Send every pending notice; a failure is recorded and retried next time."""
    sent = 0
    for notice in session.scalars(select(Notice).where(Notice.delivery.in_(("pending", "failed"))).order_by(Notice.id)):
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = sender, notice.recipient, notice.subject
        message["Message-ID"] = make_msgid(idstring=f"notice-{notice.id}", domain="registry.local")
        message.set_content(notice.body)
        try:
            notice.delivery_ref = mailer.send(message)[:300]
            notice.delivery = "sent"
            sent += 1
        except OSError as exc:
            notice.delivery, notice.delivery_ref = "failed", str(exc)[:300]
    session.commit()
    return sent


def notices_for(session: Session, actor: User) -> list[Notice]:
    return list(session.scalars(select(Notice).where(Notice.organisation_id == (actor.organisation_id or -1))
                                .order_by(Notice.id.desc())))


def mark_read(session: Session, actor: User, notices: list[Notice]) -> None:
    now = datetime.now(timezone.utc)
    for notice in notices:
        if notice.read_at is None and notice.organisation_id == actor.organisation_id:
            notice.read_at = now
