"""The routing table (DESIGN.md): arbeidsmarktregio, gemeente, woonplaats, postcode (PC4),
place alias, partner and service. Every row records its source and whether a person verified it."""
from __future__ import annotations

from sqlalchemy import (Boolean, CheckConstraint, Column, Date, Float, ForeignKey, Index, Integer,
                        MetaData, String, Text, UniqueConstraint)
from sqlalchemy.orm import declarative_base, relationship

# Stable constraint names, so Alembic migrations work the same on SQLite and PostgreSQL.
metadata = MetaData(naming_convention={
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
})
Base = declarative_base(metadata=metadata)

SCOPES = ("national", "region", "gemeente")
AUDIENCES = ("werkzoekende", "werkende", "werkgever")
PARTNER_TYPES = ("gemeente", "uwv", "vakbond", "sbb", "wsp", "werkcentrum", "onderwijs",
                 "werkgeversorganisatie", "taalhuis", "juridisch_loket", "schuldhulp",
                 "inburgering", "leerwerkloket", "scholing_info", "crisis")


class Provenance:
    source = Column(Text, nullable=False, default="")
    verified = Column(Boolean, nullable=False, default=False)


class Arbeidsmarktregio(Provenance, Base):
    __tablename__ = "arbeidsmarktregio"
    code = Column(String(8), primary_key=True)  # AM01 … AM38 (not contiguous)
    name = Column(String(120), nullable=False)
    gemeenten = relationship("Gemeente", back_populates="region")


class Gemeente(Provenance, Base):
    __tablename__ = "gemeente"
    code = Column(String(8), primary_key=True)  # CBS code GM0014
    name = Column(String(120), nullable=False)
    province = Column(String(60), nullable=False)
    region_code = Column(String(8), ForeignKey("arbeidsmarktregio.code"), nullable=False, index=True)
    region = relationship("Arbeidsmarktregio", back_populates="gemeenten")


class Woonplaats(Provenance, Base):
    __tablename__ = "woonplaats"
    id = Column(Integer, primary_key=True)
    code = Column(String(8), nullable=False, unique=True)  # BAG woonplaatscode
    name = Column(String(120), nullable=False)              # official, e.g. "Haren Gn"
    basename = Column(String(120), nullable=False, index=True)  # as people say it: "Haren"
    gemeente_code = Column(String(8), ForeignKey("gemeente.code"), nullable=False, index=True)


class Postcode(Provenance, Base):
    __tablename__ = "postcode"
    pc4 = Column(String(4), primary_key=True)
    gemeente_code = Column(String(8), ForeignKey("gemeente.code"), primary_key=True)
    share = Column(Float, nullable=False, default=1.0)  # part of the PC4's PC6 codes in this gemeente


class PlaceAlias(Provenance, Base):
    __tablename__ = "place_alias"
    id = Column(Integer, primary_key=True)
    alias = Column(String(120), nullable=False, index=True)
    gemeente_code = Column(String(8), ForeignKey("gemeente.code"), nullable=False)
    kind = Column(String(40), nullable=False, default="")
    __table_args__ = (UniqueConstraint("alias", "gemeente_code"),)


class Partner(Provenance, Base):
    __tablename__ = "partner"
    id = Column(String(80), primary_key=True)  # stable key: "uwv", "gemeente-GM0014", "wsp-AM22-1"
    type = Column(String(40), nullable=False, index=True)
    name = Column(String(200), nullable=False)
    description = Column(Text, nullable=False, default="")
    website = Column(String(300))
    phone = Column(String(60))
    phone_hours = Column(String(200))
    email = Column(String(200))
    address = Column(String(300))
    opening_hours = Column(String(200))
    handover_email = Column(String(200))
    handover_webhook = Column(String(300))
    region_code = Column(String(8), ForeignKey("arbeidsmarktregio.code"), index=True)
    gemeente_code = Column(String(8), ForeignKey("gemeente.code"), index=True)
    checked_on = Column(Date)
    services = relationship("Service", back_populates="partner", cascade="all, delete-orphan")


class Service(Provenance, Base):
    __tablename__ = "service"
    id = Column(Integer, primary_key=True)
    partner_id = Column(String(80), ForeignKey("partner.id", ondelete="CASCADE"), nullable=False, index=True)
    topic = Column(String(40), nullable=False)
    scope = Column(String(10), nullable=False)
    region_code = Column(String(8), ForeignKey("arbeidsmarktregio.code"))
    gemeente_code = Column(String(8), ForeignKey("gemeente.code"))
    audience = Column(String(20), nullable=False)
    description = Column(Text, nullable=False)
    conditions = Column(Text, nullable=False, default="")
    priority = Column(Integer, nullable=False, default=50)
    valid_from = Column(Date)
    valid_until = Column(Date)
    partner = relationship("Partner", back_populates="services")
    __table_args__ = (
        CheckConstraint("scope IN ('national', 'region', 'gemeente')", name="scope"),
        CheckConstraint("audience IN ('werkzoekende', 'werkende', 'werkgever')", name="audience"),
        CheckConstraint(
            "(scope = 'national' AND region_code IS NULL AND gemeente_code IS NULL) OR "
            "(scope = 'region' AND region_code IS NOT NULL AND gemeente_code IS NULL) OR "
            "(scope = 'gemeente' AND gemeente_code IS NOT NULL)", name="scope_target"),
        Index("ix_service_lookup", "topic", "audience", "scope"),
    )
