"""Demo registry: a few rights holders with rights, products, images and suppliers.

Everything is drawn here with Pillow from fixed seeds, so a fresh install shows a realistic
registry with nothing downloaded.
"""

from __future__ import annotations

import io
import math
import random
from datetime import timedelta

from PIL import Image, ImageDraw, ImageFont
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from registry.models import Organisation, OrganisationStatus, Role
from registry.services import organisations, products, rights, suppliers, users
from registry.services.calendar import local_today
from registry.services.products import UploadPolicy
from registry.storage import BlobStore

HOLDERS = [
    # name, country, mark, colours, shape, products [(name, model, category, hs, gtin, price range)]
    ("Velorun Sports GmbH", "DE", "VELORUN", ("#0b6e4f", "#f2f2f2"), "swoosh",
     [("Velorun Trail 3", "VT3-2026", "running shoes", "6404.11", "4006381333931", (89, 149)),
      ("Velorun Court", "VC-100", "tennis shoes", "6404.11", "4006381333948", (69, 119))]),
    ("Maison Lirelle SA", "FR", "LIRELLE", ("#6b2d5c", "#f0e6d2"), "diamond",
     [("Lirelle No. 7 Eau de Parfum", "L7-50ML", "perfume", "3303.00", "3017620422003", (95, 130))]),
    ("Kobalt Audio Ltd", "GB", "KOBALT", ("#1d3557", "#e63946"), "circle",
     [("Kobalt Buds Pro", "KB-PRO2", "wireless earphones", "8518.30", "5012345678900", (129, 179)),
      ("Kobalt Charger 65W", "KC-65", "phone charger", "8504.40", "5012345678917", (39, 59))]),
    ("Sorrento Pelletteria S.p.A.", "IT", "SORRENTO", ("#8c5e3c", "#fff4e0"), "shield",
     [("Sorrento Borsa Classica", "SBC-01", "leather handbag", "4202.21", "8001234567897", (690, 1250))]),
    ("Nordvik Optics AB", "SE", "NORDVIK", ("#222222", "#ffd166"), "triangle",
     [("Nordvik Aviator", "NA-58", "sunglasses", "9004.10", "7312345678909", (149, 219))]),
    ("Hayashi Precision KK", "JP", "HAYASHI", ("#c1121f", "#fdf0d5"), "star",
     [("Hayashi Chrono H1", "H1-SS", "wrist watch", "9102.11", "4901234567894", (420, 560))]),
]

SUPPLIER_TEMPLATES = [
    ("manufacturer", "{mark} Manufacturing Co., Ltd.", "CN", "No. 18 Industrial Road, Dongguan"),
    ("manufacturer", "{mark} Vietnam Factory Co., Ltd.", "VN", "Lot 4, Amata Industrial Park, Bien Hoa"),
    ("exporter", "{mark} Global Logistics Pte. Ltd.", "SG", "8 Pioneer Sector, Singapore"),
    ("distributor", "{mark} Europe Distribution B.V.", "NL", "Havenweg 12, Rotterdam"),
]


def _font(size: int) -> ImageFont.ImageFont:
    for path in ("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
                 "/usr/share/fonts/dejavu/DejaVuSans-Bold.ttf"):
        try:
            return ImageFont.truetype(path, size)
        except OSError:
            continue
    return ImageFont.load_default(size=size)


def _shape(draw: ImageDraw.ImageDraw, shape: str, box: tuple[int, int, int, int], colour: str) -> None:
    x0, y0, x1, y1 = box
    cx, cy, r = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) / 2
    if shape == "circle":
        draw.ellipse(box, fill=colour)
        draw.ellipse((cx - r / 2, cy - r / 2, cx + r / 2, cy + r / 2), fill="white")
    elif shape == "diamond":
        draw.polygon([(cx, y0), (x1, cy), (cx, y1), (x0, cy)], fill=colour)
    elif shape == "triangle":
        draw.polygon([(cx, y0), (x1, y1), (x0, y1)], fill=colour)
    elif shape == "star":
        points = [(cx + (r if i % 2 == 0 else r / 2.4) * math.cos(math.pi / 2 + i * math.pi / 5),
                   cy - (r if i % 2 == 0 else r / 2.4) * math.sin(math.pi / 2 + i * math.pi / 5)) for i in range(10)]
        draw.polygon(points, fill=colour)
    elif shape == "shield":
        draw.polygon([(x0, y0), (x1, y0), (x1, cy), (cx, y1), (x0, cy)], fill=colour)
    else:  # swoosh
        draw.arc((x0, y0 - r, x1 + r, y1), 100, 200, fill=colour, width=int(r / 2.5))


def draw_logo(mark: str, colours: tuple[str, str], shape: str) -> bytes:
    image = Image.new("RGB", (640, 400), colours[1])
    draw = ImageDraw.Draw(image)
    _shape(draw, shape, (230, 30, 410, 210), colours[0])
    font = _font(72)
    width = draw.textlength(mark, font=font)
    draw.text(((640 - width) / 2, 250), mark, fill=colours[0], font=font)
    return _png(image)


def draw_packaging(mark: str, product: str, colours: tuple[str, str], shape: str, gtin: str, seed: int) -> bytes:
    rng = random.Random(seed)
    image = Image.new("RGB", (900, 1200), colours[0])
    draw = ImageDraw.Draw(image)
    for _ in range(14):  # a background pattern unique to the brand
        x, y = rng.randrange(0, 900), rng.randrange(0, 1200)
        size = rng.randrange(40, 160)
        draw.rectangle((x, y, x + size, y + size // 3), fill=colours[1] if rng.random() < 0.3 else "#ffffff22")
    draw.rectangle((60, 80, 840, 620), fill=colours[1])
    _shape(draw, shape, (330, 120, 570, 360), colours[0])
    font = _font(96)
    width = draw.textlength(mark, font=font)
    draw.text(((900 - width) / 2, 420), mark, fill=colours[0], font=font)
    small = _font(44)
    draw.text((80, 700), product, fill=colours[1], font=small)
    # A drawn barcode block with its digits, as on a real box.
    x = 520
    for i, digit in enumerate(gtin):
        for bar in range(int(digit) % 4 + 1):
            draw.rectangle((x, 960, x + 3, 1080), fill="black")
            x += 6
        x += 4
    draw.rectangle((500, 940, 880, 1140), outline="black", width=3)
    draw.text((520, 1090), gtin, fill="black", font=_font(30))
    return _png(image)


def draw_label(mark: str, model: str, colours: tuple[str, str]) -> bytes:
    image = Image.new("RGB", (600, 300), "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, 600, 60), fill=colours[0])
    draw.text((20, 8), mark, fill="white", font=_font(40))
    draw.text((20, 90), f"Model {model}", fill="black", font=_font(32))
    draw.text((20, 150), "Authentic product · serial on inner tag", fill="#444444", font=_font(24))
    return _png(image)


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def seed_demo(session: Session, blobs: BlobStore, *, password: str) -> list[tuple[str, str]]:
    """Create the demo registry in an empty database; returns (role, e-mail) of the accounts."""
    if session.scalar(select(func.count(Organisation.id))):
        return []
    admin = users.create_user(session, None, email="admin@demo.example", name="Ada Admin",
                              password=password, role=Role.ADMIN)
    users.create_user(session, None, email="officer@demo.example", name="Olu Officer",
                      password=password, role=Role.OFFICER, office="Hamburg customs office")
    users.create_user(session, None, email="legal@demo.example", name="Lena Legal",
                      password=password, role=Role.LEGAL)
    accounts = [("administrator", "admin@demo.example"), ("customs officer", "officer@demo.example"),
                ("legal staff", "legal@demo.example")]
    today = local_today()
    policy = UploadPolicy()
    for index, (org_name, country, mark, colours, shape, items) in enumerate(HOLDERS):
        slug = mark.lower()
        holder = organisations.register_organisation(
            session, {"name": org_name, "country": country, "address": f"{mark.title()} House, {country}"},
            user_name=f"{mark.title()} Brand Protection", email=f"holder@{slug}.demo.example",
            password=password)
        organisation = holder.organisation
        organisations.set_organisation_status(session, admin, organisation, OrganisationStatus.APPROVED)
        session.refresh(holder)
        accounts.append(("rights holder", holder.email))
        organisations.add_contact(session, holder, organisation.id, {
            "name": f"{mark.title()} Brand Protection Desk", "role": "brand protection manager",
            "email": f"protect@{slug}.demo.example", "phone": "+49 30 1234567", "countries": "DE, FR, IT, US"})
        # One holder's protection ends soon, so the reminder shows in the demo.
        until = today + timedelta(days=20 if index == 2 else 300)
        right = rights.register_right(session, holder, organisation.id, {
            "kind": "figurative", "mark_text": mark, "registration_number": f"0{18000000 + index * 7919}",
            "office": "EUIPO", "nice_classes": "9, 18, 25", "registration_expiry": today + timedelta(days=3000),
            "protection_number": f"AFA-{today.year}-{1000 + index}", "protection_jurisdictions": "EU",
            "protection_valid_from": today - timedelta(days=60), "protection_valid_until": until,
            "small_consignments": index % 2 == 0})
        products.add_reference_image(session, holder, blobs, policy, kind="logo",
                                     data=draw_logo(mark, colours, shape), filename=f"{slug}-logo.png",
                                     right_id=right.id)
        for s_index, (role, name, s_country, address) in enumerate(SUPPLIER_TEMPLATES[: 2 + index % 3]):
            suppliers.add_supplier(session, holder, organisation.id, {
                "role": role, "name": name.format(mark=mark.title()), "country": s_country,
                "address": address, "identifiers": f"VAT: {s_country}{100000 + index * 10 + s_index}"})
        for p_index, (name, model, category, hs, gtin, (low, high)) in enumerate(items):
            product = products.register_product(session, holder, organisation.id, {
                "name": name, "model": model, "category": category, "right_id": right.id,
                "gtins": gtin, "hs_codes": hs, "price_min": low, "price_max": high, "currency": "EUR",
                "production_countries": "CN, VN" if index % 2 == 0 else country,
                "intended_markets": "DE, FR, IT, ES, NL, US",
                "overt_features": f"{mark} embossed on the side\nHologram sticker with serial number",
                "covert_features": "UV-reactive thread in the inner label" if p_index == 0 else "",
                "counterfeit_clues": "Logo printed, not embossed\nMissing serial number on the hologram"})
            products.add_reference_image(session, holder, blobs, policy, kind="packaging",
                                         data=draw_packaging(mark, name, colours, shape, gtin, seed=index * 10 + p_index),
                                         filename=f"{slug}-{model.lower()}-box.png", product_id=product.id)
            if p_index == 0:
                products.add_reference_image(session, holder, blobs, policy, kind="label",
                                             data=draw_label(mark, model, colours),
                                             filename=f"{slug}-{model.lower()}-label.png", product_id=product.id)
    return accounts
