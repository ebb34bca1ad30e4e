"""Senders of partner notifications: e-mail over SMTP and a signed webhook POST.

Settings come from the environment and are read at every delivery, so a fixed setting takes
effect at the next retry without a restart:

  GIDS_SMTP_HOST, GIDS_SMTP_PORT (25, or 587 with STARTTLS), GIDS_SMTP_USER, GIDS_SMTP_PASSWORD,
  GIDS_SMTP_STARTTLS (1/true/yes), GIDS_SMTP_FROM, GIDS_CONSOLE_URL (http://localhost:8080),
  GIDS_WEBHOOK_SECRET (HMAC-SHA256 key for X-Gids-Signature), GIDS_WEBHOOK_TIMEOUT (10 seconds).

A failed send raises DeliveryError whose text goes to outbox_message.last_error and the log, so it
never holds personal data: no server replies (they echo addresses), no response bodies, no URLs
(a webhook URL may carry a token)."""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import smtplib
import socket
import ssl
from dataclasses import dataclass
from datetime import datetime, timezone
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from pathlib import Path
from typing import Optional
from urllib.parse import quote, urlsplit

import aiohttp
import jinja2

TEMPLATES = Path(__file__).resolve().parent / "templates"
TRUE = {"1", "true", "yes", "ja", "on"}

_jinja = jinja2.Environment(
    loader=jinja2.FileSystemLoader(str(TEMPLATES)),
    autoescape=jinja2.select_autoescape(["html"]),
    undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
    trim_blocks=True, lstrip_blocks=True)

DAYS = ("maandag", "dinsdag", "woensdag", "donderdag", "vrijdag", "zaterdag", "zondag")
MONTHS = ("januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus", "september",
          "oktober", "november", "december")
REASONS = {"request_human": "De persoon vroeg zelf om een medewerker.",
           "fallback": "De gids kon de vraag niet goed beantwoorden."}


class DeliveryError(Exception):
    """A send that did not succeed; the message stays pending and is tried again later."""


# --------------------------------------------------------------------------------------- e-mail

@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    user: str
    password: str
    starttls: bool
    sender: str
    timeout: float = 30.0

    @classmethod
    def from_env(cls) -> "SmtpSettings":
        env = os.environ
        host = env.get("GIDS_SMTP_HOST", "").strip()
        if not host:
            raise DeliveryError("e-mail is not set up: GIDS_SMTP_HOST is empty")
        starttls = env.get("GIDS_SMTP_STARTTLS", "").strip().lower() in TRUE
        port_text = env.get("GIDS_SMTP_PORT", "").strip() or ("587" if starttls else "25")
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise DeliveryError("e-mail is not set up: GIDS_SMTP_PORT is not a port number")
        return cls(host=host, port=int(port_text), user=env.get("GIDS_SMTP_USER", ""),
                   password=env.get("GIDS_SMTP_PASSWORD", ""), starttls=starttls,
                   sender=env.get("GIDS_SMTP_FROM", "").strip() or "Werkcentrum Gids <gids@localhost>")


def console_url() -> str:
    return (os.environ.get("GIDS_CONSOLE_URL", "").strip() or "http://localhost:8080").rstrip("/")


def handover_link(reference: str) -> str:
    return f"{console_url()}/handovers/{quote(reference, safe='')}"


def dutch_datetime(iso: Optional[str]) -> Optional[str]:
    """'dinsdag 24 november 2026 om 14.05 uur', in Dutch local time (as STYLE-B1.md writes dates)."""
    if not iso:
        return None
    moment = datetime.fromisoformat(iso)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    try:
        from zoneinfo import ZoneInfo
        moment = moment.astimezone(ZoneInfo("Europe/Amsterdam"))
        zone = ""
    except Exception:  # no time-zone database on this machine: say it is UTC
        zone = " (UTC)"
    return (f"{DAYS[moment.weekday()]} {moment.day} {MONTHS[moment.month - 1]} {moment.year} "
            f"om {moment.hour}.{moment.minute:02d} uur{zone}")


def message_id(idempotency_key: str, sender: str) -> str:
    """The same key gives the same Message-ID, so a mail system can drop a resent copy."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "werkcentrum-gids.local"
    return f"<{idempotency_key}.handover@{domain}>"


def build_email(payload: dict, target: str, idempotency_key: str, settings: SmtpSettings) -> EmailMessage:
    from bot.messages import TOPIC_NAMES

    context = {
        "reference": payload["reference"],
        "partner_name": payload["partner_name"],
        "employer": payload.get("audience") == "werkgever",
        "topics": [TOPIC_NAMES.get(t, t) for t in payload.get("topics") or []],
        "gemeente": payload.get("gemeente_name"),
        "region": payload.get("region_name"),
        "received": dutch_datetime(payload.get("created_at")),
        "reason": REASONS.get(payload.get("reason") or ""),
        "forwarded": bool(payload.get("forwarded")),
        "link": handover_link(payload["reference"]),
    }
    message = EmailMessage()
    try:
        # One line, whatever a partner name holds: a line break in a header would start a new one.
        message["Subject"] = " ".join(_jinja.get_template("handover_subject.txt").render(context).split())
        message["From"] = settings.sender
        message["To"] = target
    except (ValueError, TypeError, IndexError):
        raise DeliveryError("e-mail address of the partner or GIDS_SMTP_FROM is not valid") from None
    if "@" not in parseaddr(target)[1]:
        raise DeliveryError("e-mail address of the partner is not valid")
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = message_id(idempotency_key, settings.sender)
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no out-of-office replies to the gids
    message["X-Gids-Reference"] = payload["reference"]
    message.set_content(_jinja.get_template("handover_email.txt").render(context))
    message.add_alternative(_jinja.get_template("handover_email.html").render(context), subtype="html")
    return message


def _smtp_send(settings: SmtpSettings, message: EmailMessage) -> None:
    try:
        with smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout) as smtp:
            smtp.ehlo()
            if settings.starttls:
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if settings.user:
                smtp.login(settings.user, settings.password)
            refused = smtp.send_message(message)
        if refused:
            raise DeliveryError("SMTP recipient refused")
    except DeliveryError:
        raise
    except smtplib.SMTPNotSupportedError:
        raise DeliveryError("the SMTP server does not offer STARTTLS or login") from None
    except smtplib.SMTPAuthenticationError as exc:
        raise DeliveryError(f"SMTP login refused ({exc.smtp_code})") from None
    except smtplib.SMTPRecipientsRefused as exc:
        codes = sorted({str(code) for code, _ in exc.recipients.values()})
        raise DeliveryError(f"SMTP recipient refused ({', '.join(codes)})") from None
    except smtplib.SMTPSenderRefused as exc:
        raise DeliveryError(f"SMTP sender refused ({exc.smtp_code})") from None
    except smtplib.SMTPDataError as exc:
        raise DeliveryError(f"SMTP message refused ({exc.smtp_code})") from None
    except smtplib.SMTPResponseException as exc:
        raise DeliveryError(f"SMTP error ({exc.smtp_code})") from None
    except smtplib.SMTPServerDisconnected:
        raise DeliveryError("SMTP connection dropped") from None
    except ssl.SSLCertVerificationError as exc:
        raise DeliveryError(f"SMTP TLS certificate not accepted ({exc.verify_message})") from None
    except ssl.SSLError as exc:
        raise DeliveryError(f"SMTP TLS failed ({exc.reason})") from None
    except (socket.timeout, TimeoutError):
        raise DeliveryError(f"SMTP server did not answer within {settings.timeout:g} s") from None
    except socket.gaierror:
        raise DeliveryError("SMTP host name not found") from None
    except OSError as exc:
        raise DeliveryError(f"SMTP connection failed ({exc.strerror or type(exc).__name__})") from None
    except smtplib.SMTPException as exc:
        raise DeliveryError(f"SMTP error ({type(exc).__name__})") from None


async def send_email(payload: dict, target: str, idempotency_key: str) -> None:
    settings = SmtpSettings.from_env()
    message = build_email(payload, target, idempotency_key, settings)
    # smtplib blocks; a thread keeps the other deliveries (and the worker's signal handling) going.
    await asyncio.to_thread(_smtp_send, settings, message)


# -------------------------------------------------------------------------------------- webhook

def signature(body: bytes, secret: str) -> str:
    """X-Gids-Signature: 'sha256=' + hex HMAC-SHA256 of the exact body bytes."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def webhook_timeout() -> float:
    text = os.environ.get("GIDS_WEBHOOK_TIMEOUT", "").strip()
    try:
        value = float(text) if text else 10.0
    except ValueError:
        raise DeliveryError("GIDS_WEBHOOK_TIMEOUT is not a number of seconds") from None
    if value <= 0:
        raise DeliveryError("GIDS_WEBHOOK_TIMEOUT must be more than 0 seconds")
    return value


async def post_webhook(http: aiohttp.ClientSession, url: str, body: bytes, idempotency_key: str) -> None:
    if urlsplit(url).scheme.lower() not in ("http", "https") or not urlsplit(url).hostname:
        raise DeliveryError("the partner's webhook address is not an http(s) URL")
    timeout = webhook_timeout()
    headers = {"Content-Type": "application/json; charset=utf-8", "Idempotency-Key": idempotency_key,
               "User-Agent": "werkcentrum-gids"}
    secret = os.environ.get("GIDS_WEBHOOK_SECRET", "")
    if secret:
        headers["X-Gids-Signature"] = signature(body, secret)
    try:
        # No redirects: following one would send the transcript to an address nobody configured.
        async with http.post(url, data=body, headers=headers, allow_redirects=False,
                             timeout=aiohttp.ClientTimeout(total=timeout)) as response:
            if not 200 <= response.status < 300:
                raise DeliveryError(f"webhook answered HTTP {response.status}")
    except DeliveryError:
        raise
    except asyncio.TimeoutError:
        raise DeliveryError(f"webhook did not answer within {timeout:g} s") from None
    except aiohttp.ClientConnectorCertificateError:
        raise DeliveryError("webhook TLS certificate not accepted") from None
    except aiohttp.ClientConnectorError as exc:
        # os.strerror, not str(exc): the latter names the host and port of the partner's system.
        errno = getattr(exc.os_error, "errno", None)
        reason = os.strerror(errno) if errno else "no connection"
        raise DeliveryError(f"webhook connection failed ({reason})") from None
    except aiohttp.ServerDisconnectedError:
        raise DeliveryError("webhook receiver dropped the connection") from None
    except aiohttp.InvalidURL:
        raise DeliveryError("the partner's webhook address is not a valid URL") from None
    except aiohttp.ClientError as exc:
        raise DeliveryError(f"webhook failed ({type(exc).__name__})") from None


# ----------------------------------------------------------------------------------------- both

class Senders:
    """One delivery round's senders; shares one HTTP connection pool between the webhooks."""

    def __init__(self) -> None:
        self._http: Optional[aiohttp.ClientSession] = None

    async def __aenter__(self) -> "Senders":
        return self

    async def __aexit__(self, *exc) -> None:
        if self._http is not None:
            await self._http.close()

    async def send(self, message) -> None:
        """``message``: an outbox.Leased. Raises DeliveryError when it did not arrive."""
        try:
            payload = json.loads(message.payload)
        except ValueError:
            raise DeliveryError("the stored payload is not valid JSON") from None
        if message.kind == "email":
            await send_email(payload, message.target, message.idempotency_key)
        elif message.kind == "webhook":
            if self._http is None:
                # trust_env: a partner network may only reach out through an HTTP(S)_PROXY.
                self._http = aiohttp.ClientSession(trust_env=True)
            await post_webhook(self._http, message.target, message.payload.encode("utf-8"),
                               message.idempotency_key)
        else:
            raise DeliveryError(f"unknown kind of message: {message.kind[:20]}")
