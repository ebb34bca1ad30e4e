"""Staff accounts, login with atomic throttling, session checks, CSRF tokens and partner API tokens.

Everything here is plain, synchronous Python on a SQLAlchemy session, so the web app runs it in a
worker thread and the CLI and the tests call it directly."""
from __future__ import annotations

import hashlib
import hmac
import math
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Optional

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import DateTime, and_, case, literal, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bot.db import rowcount
from bot.db.models import (ROLES, ApiToken, Arbeidsmarktregio, AuditLog, Gemeente, LoginThrottle, Partner,
                           StaffUser)
from bot.handover import audit, utcnow

# argon2id with the library's defaults (RFC 9106 low-memory profile). Module-level so the tests can
# swap in a cheap hasher; hashes made with other parameters are upgraded at the next login.
hasher = PasswordHasher()

MIN_PASSWORD_LENGTH = 12
USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._@-]{1,119}$")

# Login throttling (see take_attempt). The counts live in the database, so they hold across restarts
# and across several console processes. Per client address only where that address is known
# (app.throttle_address): the limit is higher, as a whole office may share one address.
FAILURE_WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_USER = 5
MAX_FAILURES_PER_IP = 20

LOGIN_FAILED = "Je gebruikersnaam of wachtwoord klopt niet."


class AccountError(ValueError):
    """A user or token could not be made or changed; the message says why, in Dutch."""


@dataclass(frozen=True)
class Staff:
    """The logged-in staff member as the views need it (a plain value, safe outside the session)."""
    id: int
    username: str
    display_name: str
    role: str
    region_code: Optional[str]
    region_name: Optional[str]
    partner_id: Optional[str]
    partner_name: Optional[str]
    home_region: Optional[str]  # the region whose trends they see first

    @property
    def name(self) -> str:
        return self.display_name or self.username

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


@dataclass(frozen=True)
class LoginResult:
    staff: Optional[Staff] = None
    fingerprint: str = ""
    wait_minutes: int = 0  # > 0: throttled, try again after this many minutes

    @property
    def ok(self) -> bool:
        return self.staff is not None


def normalize_username(username: str) -> str:
    return (username or "").strip().lower()


def hash_password(password: str) -> str:
    return hasher.hash(password)


def check_password_rules(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"Het wachtwoord moet minstens {MIN_PASSWORD_LENGTH} tekens hebben.")
    if password.strip() != password:
        raise AccountError("Het wachtwoord mag niet met een spatie beginnen of eindigen.")


def password_fingerprint(password_hash: str) -> str:
    """Stored in the session: a new password (or disabling, which resets it) ends old sessions."""
    return hashlib.sha256(password_hash.encode()).hexdigest()[:24]


_dummy_hash: Optional[str] = None


def _verify(password_hash: Optional[str], password: str) -> bool:
    """Verifies against a dummy hash when there is no user, so unknown names take as long."""
    global _dummy_hash
    if password_hash is None:
        if _dummy_hash is None:
            _dummy_hash = hasher.hash(secrets.token_urlsafe(16))
        password_hash = _dummy_hash
        password = password + "\x00never"
    try:
        return hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def login_key(secret: bytes, username: str) -> str:
    """What the audit log keeps of a typed user name: a keyed hash. Someone may type their password
    into the name field; it must not end up in the log readable."""
    return hmac.new(secret, normalize_username(username).encode(), hashlib.sha256).hexdigest()[:32]


def _staff_from_row(session: Session, user: StaffUser) -> Staff:
    partner = session.get(Partner, user.partner_id) if user.partner_id else None
    region = session.get(Arbeidsmarktregio, user.region_code) if user.region_code else None
    home = user.region_code
    if home is None and partner is not None:
        home = partner.region_code
        if home is None and partner.gemeente_code:
            gemeente = session.get(Gemeente, partner.gemeente_code)
            home = gemeente.region_code if gemeente is not None else None
    return Staff(id=user.id, username=user.username, display_name=user.display_name or "",
                 role=user.role, region_code=user.region_code,
                 region_name=region.name if region is not None else None,
                 partner_id=user.partner_id, partner_name=partner.name if partner is not None else None,
                 home_region=home)


# --- login throttling -----------------------------------------------------------------------
#
# One row per key in login_throttle: ``failures`` in the window that ends at ``window_end``. A login
# first *takes* an attempt with one conditional UPDATE (the row is locked until the transaction
# ends, on PostgreSQL per row, on SQLite the whole database), then checks the password: of two
# concurrent logins with one attempt left, the second waits for the first and then finds none.
# A correct password gives the attempt back. The window starts at the first failure and starts
# again at the failure that reaches the limit, so the lock lasts FAILURE_WINDOW from then.

_THROTTLE = LoginThrottle.__table__


def _user_key(secret: bytes, username: str) -> str:
    return "user:" + login_key(secret, username)


def _address_key(secret: bytes, address: str) -> str:
    # Keyed as well: the table keeps no readable staff address.
    return "addr:" + hmac.new(secret, b"addr\x00" + address.encode(), hashlib.sha256).hexdigest()[:32]


def _insert_missing(session: Session, key: str, window_end: datetime) -> None:
    """Makes the key's row (0 failures) unless it exists; a concurrent insert is no error."""
    values = {"key": key, "failures": 0, "window_end": window_end}
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.execute(postgresql.insert(_THROTTLE).values(**values).on_conflict_do_nothing(index_elements=["key"]))
    elif dialect == "sqlite":
        session.execute(sqlite.insert(_THROTTLE).values(**values).on_conflict_do_nothing(index_elements=["key"]))
    # No INSERT .. ON CONFLICT elsewhere: two first failures at the same moment may fail one request.
    elif session.execute(select(_THROTTLE.c.key).where(_THROTTLE.c.key == key)).first() is None:
        session.execute(_THROTTLE.insert().values(**values))


def take_attempt(session: Session, key: str, limit: int, now: datetime) -> int:
    """Takes one login attempt for ``key``, atomically: 0 when taken, otherwise the minutes to wait.
    The caller gives it back with ``give_back`` (a correct password) or ``reset`` in the same
    transaction."""
    c = _THROTTLE.c
    fresh_end = literal(now + FAILURE_WINDOW, DateTime())
    expired = c.window_end <= now
    for _ in range(3):
        _insert_missing(session, key, now + FAILURE_WINDOW)
        taken = rowcount(session.execute(
            update(_THROTTLE)
            .where(c.key == key, or_(expired, c.failures < limit))
            .values(failures=case((expired, 1), else_=c.failures + 1),
                    window_end=case((or_(expired, c.failures + 1 >= limit), fresh_end), else_=c.window_end))))
        if taken == 1:
            return 0
        window_end = session.execute(select(c.window_end).where(c.key == key)).scalar_one_or_none()
        if window_end is not None:
            return max(1, math.ceil((window_end - now).total_seconds() / 60))
        # The row went between the two statements (a purge of ended windows): make it again.
    raise RuntimeError(f"login throttle row {key[:5]}… could not be taken")


def give_back(session: Session, key: str) -> None:
    c = _THROTTLE.c
    session.execute(update(_THROTTLE).where(c.key == key, c.failures > 0).values(failures=c.failures - 1))


def reset(session: Session, key: str) -> None:
    session.execute(update(_THROTTLE).where(_THROTTLE.c.key == key).values(failures=0))


def attempt_login(session: Session, username: str, password: str, *, secret: bytes,
                  ip: Optional[str], throttle_ip: Optional[str] = None,
                  now: Optional[datetime] = None) -> LoginResult:
    """Takes an attempt for the user name (and, with ``throttle_ip``, for that client address),
    then checks the password; writes the login or the failure to the audit log with ``ip``.

    ``throttle_ip`` is only given when the client address is known to be the client's own (no
    proxy, or a trusted proxy's X-Forwarded-For): behind a proxy every client would share one."""
    now = now or utcnow()
    name = normalize_username(username)
    key = f"key={login_key(secret, name)}"
    user = session.execute(select(StaffUser).where(StaffUser.username == name)).scalar_one_or_none()

    # Always the user name first, then the address: the same lock order in every login.
    user_key = _user_key(secret, name)
    wait = take_attempt(session, user_key, MAX_FAILURES_PER_USER, now)
    if wait:
        return LoginResult(wait_minutes=wait)
    address_key = _address_key(secret, throttle_ip) if throttle_ip else None
    if address_key is not None:
        wait = take_attempt(session, address_key, MAX_FAILURES_PER_IP, now)
        if wait:
            give_back(session, user_key)  # this attempt was never made
            return LoginResult(wait_minutes=wait)

    ok = _verify(user.password_hash if user is not None else None, password)
    if not ok or user is None or not user.active:
        # The attempt stays taken: it was a failure.
        audit.record(session, "login_failed", actor=user.username if user is not None else "onbekend",
                     user=user, detail=key, ip=ip)
        return LoginResult()

    reset(session, user_key)  # a successful login wipes the slate for that user
    if address_key is not None:
        give_back(session, address_key)  # and does not count against the address
    if hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hasher.hash(password)
    user.last_login_at = now
    audit.record(session, "login", actor=user.username, user=user, detail=key, ip=ip)
    return LoginResult(staff=_staff_from_row(session, user),
                       fingerprint=password_fingerprint(user.password_hash))


def load_staff(session: Session, user_id: int, fingerprint: str, sid: str = "",
               login_at: Optional[datetime] = None) -> Optional[Staff]:
    """The staff member behind a session, or None when the account was disabled, removed or got a
    new password since, or this session was logged out: checked on every request, so each takes
    effect at once."""
    user = session.get(StaffUser, user_id)
    if user is None or not user.active:
        return None
    if not hmac.compare_digest(password_fingerprint(user.password_hash), fingerprint or ""):
        return None
    if sid and login_at is not None:
        # The cookie holds the whole session, so a copy of it would outlive a logout; the logout's
        # audit entry names the session and ends it here. Only entries since the login are read.
        logged_out = session.execute(select(AuditLog.id).where(
            AuditLog.at >= login_at - timedelta(minutes=1), AuditLog.action == "logout",
            AuditLog.user_id == user.id, AuditLog.detail == f"sid={sid}").limit(1)).first()
        if logged_out:
            return None
    return _staff_from_row(session, user)


# --- CSRF -------------------------------------------------------------------------------------

def csrf_token(web_session) -> str:
    """One random token per session, put in every form and checked on every POST."""
    token = web_session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        web_session["csrf"] = token
    return token


def csrf_valid(web_session, submitted) -> bool:
    expected = web_session.get("csrf")
    if not expected or not isinstance(submitted, str) or not submitted:
        return False
    return hmac.compare_digest(expected.encode(), submitted.encode())


# --- staff accounts (the CLI) -------------------------------------------------------------------

def check_new_user(session: Session, username: str, *, role: str, region_code: Optional[str] = None,
                   partner_id: Optional[str] = None) -> str:
    """Raises AccountError when the account cannot be made; returns the normalised user name."""
    name = normalize_username(username)
    if not USERNAME_RE.match(name):
        raise AccountError("Een gebruikersnaam heeft 2 tot 120 tekens: letters, cijfers en . _ @ -")
    if role not in ROLES:
        raise AccountError(f"Onbekende rol '{role}'. Kies uit: {', '.join(ROLES)}.")
    if role == "werkcentrum":
        if not region_code:
            raise AccountError("Een medewerker van een werkcentrum heeft een regio nodig: --region AMxx.")
        if session.get(Arbeidsmarktregio, region_code) is None:
            raise AccountError(f"Regio '{region_code}' bestaat niet.")
    elif region_code:
        raise AccountError("Alleen de rol werkcentrum hoort bij een regio.")
    if role == "partner":
        if not partner_id:
            raise AccountError("Een partnermedewerker heeft een partner nodig: --partner ID.")
        if session.get(Partner, partner_id) is None:
            raise AccountError(f"Partner '{partner_id}' bestaat niet.")
    elif partner_id:
        raise AccountError("Alleen de rol partner hoort bij een partner.")
    if session.execute(select(StaffUser.id).where(StaffUser.username == name)).first():
        raise AccountError(f"Gebruiker '{name}' bestaat al.")
    return name


def add_user(session: Session, username: str, password: str, *, role: str,
             region_code: Optional[str] = None, partner_id: Optional[str] = None,
             display_name: str = "", actor: str = "cli") -> StaffUser:
    name = check_new_user(session, username, role=role, region_code=region_code, partner_id=partner_id)
    check_password_rules(password)
    user = StaffUser(username=name, display_name=(display_name or "").strip(),
                     password_hash=hash_password(password), role=role, region_code=region_code,
                     partner_id=partner_id, active=True, created_at=utcnow())
    session.add(user)
    session.flush()
    audit.record(session, "user_add", actor=actor, user=user, detail=f"role={role}")
    return user


def _user(session: Session, username: str) -> StaffUser:
    user = session.execute(select(StaffUser).where(
        StaffUser.username == normalize_username(username))).scalar_one_or_none()
    if user is None:
        raise AccountError(f"Gebruiker '{normalize_username(username)}' bestaat niet.")
    return user


def disable_user(session: Session, username: str, actor: str = "cli") -> StaffUser:
    user = _user(session, username)
    user.active = False
    # A fresh unusable hash ends every open session now and makes re-enabling set a new password.
    user.password_hash = hash_password(secrets.token_urlsafe(32))
    audit.record(session, "user_disable", actor=actor, user=user)
    return user


def set_password(session: Session, username: str, password: str, *, enable: bool = False,
                 actor: str = "cli") -> StaffUser:
    user = _user(session, username)
    check_password_rules(password)
    user.password_hash = hash_password(password)
    if enable:
        user.active = True
    audit.record(session, "user_enable" if enable else "user_password", actor=actor, user=user)
    return user


# --- partner API tokens ---------------------------------------------------------------------

TOKEN_PREFIX = "gids_"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def add_token(session: Session, partner_id: str, name: str = "", actor: str = "cli") -> tuple:
    """Returns (ApiToken, the token itself). Only the hash is stored: the token is shown once."""
    if session.get(Partner, partner_id) is None:
        raise AccountError(f"Partner '{partner_id}' bestaat niet.")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(partner_id=partner_id, name=(name or "").strip(), token_hash=token_hash(token),
                   created_at=utcnow())
    session.add(row)
    session.flush()
    audit.record(session, "token_add", actor=actor, detail=f"token={row.id} partner={partner_id}")
    return row, token


def revoke_token(session: Session, token_id: int, actor: str = "cli") -> ApiToken:
    row = session.get(ApiToken, token_id)
    if row is None:
        raise AccountError(f"Token {token_id} bestaat niet.")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        audit.record(session, "token_revoke", actor=actor, detail=f"token={row.id} partner={row.partner_id}")
    return row


def partner_for_token(session: Session, token: str) -> Optional[str]:
    if not token or len(token) > 200:
        return None
    row = session.execute(select(ApiToken).where(
        and_(ApiToken.token_hash == token_hash(token), ApiToken.revoked_at.is_(None)))).scalar_one_or_none()
    return row.partner_id if row is not None else None
