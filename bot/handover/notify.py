"""Senders of partner notifications: e-mail over SMTP and a signed webhook POST.

Settings come from the environment and are read at every delivery, so a fixed setting takes
effect at the next retry without a restart:

  GIDS_SMTP_HOST, GIDS_SMTP_PORT (25, or 587 with STARTTLS), GIDS_SMTP_USER, GIDS_SMTP_PASSWORD,
  GIDS_SMTP_STARTTLS (1/true/yes), GIDS_SMTP_FROM, GIDS_CONSOLE_URL (http://localhost:8080),
  GIDS_WEBHOOK_SECRET (the master secret each partner's signing secret is derived from; webhooks
  wait while it is empty), GIDS_WEBHOOK_TIMEOUT (10 seconds), GIDS_WEBHOOK_ALLOW (comma-separated
  hosts that may have private addresses), GIDS_WEBHOOK_CA_FILE (extra trusted CA certificates, PEM).

A failed send raises DeliveryError whose text goes to outbox_message.last_error and the log, so it
never holds personal data: no server replies (they echo addresses), no response bodies, no URLs
(a webhook URL may carry a token)."""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import json
import os
import smtplib
import socket
import ssl
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from pathlib import Path
from typing import TYPE_CHECKING, Dict, List, Optional, Tuple
from urllib.parse import quote, urlsplit

import aiohttp
import jinja2
from aiohttp.abc import AbstractResolver
from yarl import URL

if TYPE_CHECKING:
    from aiohttp.abc import ResolveResult  # aiohttp >= 3.10; the core's 3.9 (the e2e tests) has none

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
    """A send that did not succeed; the message stays pending and is tried again later (unless
    ``permanent``: then it waits for an administrator, see TargetRefused)."""
    permanent = False


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
#
# Every webhook is signed with the partner's own secret, derived from GIDS_WEBHOOK_SECRET and the
# partner id, over "<timestamp>.<body>"; the receiver checks it with verify_webhook (docs/webhooks.md).
# Only https addresses are used, and only when every address the host resolves to is a public one,
# unless the host is in GIDS_WEBHOOK_ALLOW. The check runs at delivery time inside the connection's
# own DNS lookup, so the address that was checked is the address connected to (no DNS rebinding).

SIGNATURE_VERSION = "v1"
SIGNATURE_TOLERANCE = 300  # seconds a receiver accepts between X-Gids-Timestamp and its own clock
# A fixed label in the derivation (key separation): the master secret is never used directly as a
# signing key, and a secret derived here is useless for anything else the master secret keys.
PARTNER_SECRET_LABEL = b"werkcentrum-gids/partner-webhook-secret/v1"


def partner_webhook_secret(master_secret: str, partner_id: str) -> str:
    """The webhook secret of one partner: hex HMAC-SHA256(key = GIDS_WEBHOOK_SECRET, message =
    label, a zero byte, the partner id). A partner that leaks its secret lets nobody sign for
    another partner, and the master secret cannot be worked back from it. ``gids partner
    webhook-secret PARTNER_ID`` prints it for the administrator to give to the partner."""
    if not master_secret:
        raise ValueError("GIDS_WEBHOOK_SECRET is empty")
    if not partner_id:
        raise ValueError("a partner id is needed")
    message = PARTNER_SECRET_LABEL + b"\x00" + partner_id.encode("utf-8")
    return hmac.new(master_secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def sign_webhook(secret: str, timestamp: int, body: bytes) -> str:
    """The X-Gids-Signature value: 'v1=' + hex HMAC-SHA256(key = the partner's secret as UTF-8
    text, message = the timestamp in decimal, a dot, the exact body bytes)."""
    signed = str(int(timestamp)).encode("ascii") + b"." + body
    return f"{SIGNATURE_VERSION}=" + hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()


def verify_webhook(secret: str, timestamp: str, body: bytes, signature: str, now: float,
                   tolerance: int = SIGNATURE_TOLERANCE) -> bool:
    """The receiver's check, for partners to copy (it needs only hmac and hashlib).

    ``secret``: the partner's webhook secret (from ``gids partner webhook-secret``);
    ``timestamp``: the X-Gids-Timestamp header; ``body``: the raw request body, exactly as
    received (before any JSON parsing); ``signature``: the X-Gids-Signature header; ``now``: the
    receiver's clock in Unix seconds (``time.time()``).

    True only when the timestamp is whole Unix seconds no more than ``tolerance`` seconds from
    ``now`` (either way: an old request replayed later fails), and one of the comma-separated
    ``v1=`` values in the signature equals the HMAC-SHA256 of "<timestamp>.<body>" under the
    secret, compared in constant time. Inside the tolerance window a receiver rejects a second
    request with a signature it already accepted (keep accepted signatures for ``tolerance``
    seconds); our own retries are new requests with a new timestamp and signature and the same
    Idempotency-Key."""
    if not secret or not timestamp or not signature:
        return False
    timestamp = timestamp.strip()
    if not (timestamp.isascii() and timestamp.isdigit()) or len(timestamp) > 12:
        return False
    if abs(now - int(timestamp)) > tolerance:
        return False
    expected = sign_webhook(secret, int(timestamp), body)
    offered = [part.strip() for part in signature.split(",")]
    # Every value is compared (no early exit), each in constant time.
    matches = [hmac.compare_digest(expected.encode("ascii"), part.encode("utf-8")) for part in offered]
    return any(matches)


def webhook_timeout() -> float:
    text = os.environ.get("GIDS_WEBHOOK_TIMEOUT", "").strip()
    try:
        value = float(text) if text else 10.0
    except ValueError:
        raise DeliveryError("GIDS_WEBHOOK_TIMEOUT is not a number of seconds") from None
    if value <= 0:
        raise DeliveryError("GIDS_WEBHOOK_TIMEOUT must be more than 0 seconds")
    return value


class TargetRefused(DeliveryError):
    """A webhook address the gids does not send to (not https, or a private, loopback, link-local,
    multicast, reserved or unspecified address). Permanent: the message is not tried again until
    an administrator fixes the address or GIDS_WEBHOOK_ALLOW and runs ``gids outbox retry``."""
    permanent = True


def normal_host(host: str) -> str:
    """How hosts are compared: lower case, no brackets, no final dot, an IP address in its
    shortest form (so '[::1]', '::0:1' and '::1' are one host)."""
    host = host.strip().lower()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    host = host.rstrip(".")
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return host


def allowed_hosts() -> frozenset:
    """GIDS_WEBHOOK_ALLOW: comma-separated hosts (names or IP addresses) whose addresses are not
    checked: internal partners, and the receivers in tests. They still need https."""
    return frozenset(normal_host(h) for h in os.environ.get("GIDS_WEBHOOK_ALLOW", "").split(",") if h.strip())


_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052: an IPv4 address behind a NAT64 gateway


def address_problem(address) -> Optional[str]:
    """Why the gids may not connect to this IP address, or None for a public unicast address.
    IPv4 inside IPv6 (IPv4-mapped, NAT64, 6to4, Teredo) is judged by the IPv4 address too."""
    ip = ipaddress.ip_address(address.split("%", 1)[0] if isinstance(address, str) else address)
    inner = []
    if ip.version == 6:
        if ip.ipv4_mapped is not None:
            return address_problem(ip.ipv4_mapped)  # ::ffff:a.b.c.d is a.b.c.d
        if ip in _NAT64:
            return address_problem(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
        if ip.sixtofour is not None:
            inner.append(ip.sixtofour)
        if ip.teredo is not None:
            inner.append(ip.teredo[1])
    for candidate in [ip] + inner:
        for test, what in (("is_unspecified", "unspecified"), ("is_loopback", "loopback"),
                           ("is_link_local", "link-local"), ("is_multicast", "multicast"),
                           ("is_reserved", "reserved"), ("is_site_local", "site-local"),
                           ("is_private", "private")):
            if getattr(candidate, test, False):
                return f"{what} address"
        if not candidate.is_global:
            return "non-public address"
    return None


def _refuse_address(address: str) -> None:
    problem = address_problem(address)
    if problem is not None:
        article = "an" if problem[0] in "aeiou" else "a"
        raise TargetRefused(f"webhook address refused: the host has {article} {problem} "
                            f"({address.split('%', 1)[0]}); only public addresses, or hosts in GIDS_WEBHOOK_ALLOW")


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
        return True
    except ValueError:
        return False


class CheckedResolver(AbstractResolver):
    """The connector's DNS lookup, with the address check in it: aiohttp connects only to the
    addresses returned here, so the checked address is the one connected to, on every new
    connection (no DNS cache). A host with any refused address is refused as a whole."""

    async def resolve(self, host: str, port: int = 0, family: int = socket.AF_INET) -> List[ResolveResult]:
        loop = asyncio.get_running_loop()
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM, family=family)
        allowed = normal_host(host) in allowed_hosts()
        found: List[ResolveResult] = []
        for fam, _, proto, _, sockaddr in infos:
            address, found_port = sockaddr[0], sockaddr[1]
            if not isinstance(address, str) or not isinstance(found_port, int):
                continue  # not an IP address and port (AF_INET/AF_INET6 give only those)
            if fam == socket.AF_INET6 and len(sockaddr) > 3 and sockaddr[3] and "%" not in address:
                address = f"{address}%{sockaddr[3]}"  # a link-local address needs its scope
            if not allowed:
                _refuse_address(address)
            found.append({"hostname": host, "host": address, "port": found_port, "family": fam, "proto": proto,
                          "flags": socket.AI_NUMERICHOST | socket.AI_NUMERICSERV})
        if not found:
            raise OSError(socket.EAI_NONAME, "host name not found")
        return found

    async def close(self) -> None:
        pass


def _env_proxy(url: str) -> Tuple[Optional[str], Optional[aiohttp.BasicAuth]]:
    """The HTTPS proxy the environment sets for this URL (HTTPS_PROXY, NO_PROXY), if any."""
    try:
        from aiohttp.helpers import get_env_proxy_for_url
    except ImportError:  # not public API: fall back to the standard library's reading
        import urllib.request
        https_proxy = urllib.request.getproxies().get("https")
        host = urlsplit(url).hostname or ""
        return (None, None) if not https_proxy or urllib.request.proxy_bypass(host) else (https_proxy, None)
    try:
        proxy, auth = get_env_proxy_for_url(URL(url))
    except LookupError:
        return None, None
    return str(proxy), auth


def check_webhook_address(url: str) -> Tuple[Optional[str], Optional[int]]:
    """The checks that need no DNS lookup, shared by delivery and by the console, where a partner
    proposes its webhook address (bot.routing.changes): refuses (TargetRefused) an address that
    is not a valid https:// URL with a host, and a host that is itself an IP address that is not
    public, unless the host is in GIDS_WEBHOOK_ALLOW. Returns (host, port); host None: allowed."""
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError:
        raise TargetRefused("webhook address refused: it is not a valid URL") from None
    if parts.scheme.lower() != "https":
        raise TargetRefused("webhook address refused: only https:// addresses are used")
    if not host:
        raise TargetRefused("webhook address refused: it has no host")
    if normal_host(host) in allowed_hosts():
        return None, port
    if _is_ip(host):
        _refuse_address(host)
    return host, port


async def check_webhook_target(url: str, proxied: bool) -> None:
    """Refuses (TargetRefused) an address that is not https:// or whose host is, or resolves to,
    an address that is not public, unless the host is in GIDS_WEBHOOK_ALLOW. A host name on a
    direct connection is checked again in CheckedResolver, at the moment of connecting; here an
    IP address is checked (aiohttp does not look those up), and so is the host behind a proxy,
    which does its own lookup (so the proxy should refuse internal addresses too)."""
    host, port = check_webhook_address(url)
    if host is None or _is_ip(host):
        return
    if proxied:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, port or 443, type=socket.SOCK_STREAM)
        except OSError:
            raise DeliveryError("webhook host name not found") from None
        for info in infos:
            _refuse_address(str(info[4][0]))


async def post_webhook(senders: "Senders", url: str, body: bytes, idempotency_key: str, partner_id: str) -> None:
    proxy, proxy_auth = _env_proxy(url)
    await check_webhook_target(url, proxied=proxy is not None)
    timeout = webhook_timeout()
    master = os.environ.get("GIDS_WEBHOOK_SECRET", "")
    if not master:
        raise DeliveryError("webhooks are not set up: GIDS_WEBHOOK_SECRET is empty")
    timestamp = int(time.time())
    headers = {"Content-Type": "application/json; charset=utf-8", "Idempotency-Key": idempotency_key,
               "User-Agent": "werkcentrum-gids", "X-Gids-Timestamp": str(timestamp),
               "X-Gids-Signature": sign_webhook(partner_webhook_secret(master, partner_id), timestamp, body)}
    http = senders.session(proxied=proxy is not None)
    try:
        # No redirects: following one would send the transcript to an address nobody configured.
        async with http.post(url, data=body, headers=headers, allow_redirects=False, ssl=senders.ssl_context(),
                             proxy=proxy, proxy_auth=proxy_auth,
                             timeout=aiohttp.ClientTimeout(total=timeout)) as response:
            if not 200 <= response.status < 300:
                raise DeliveryError(f"webhook answered HTTP {response.status}")
    except DeliveryError:  # TargetRefused from CheckedResolver included
        raise
    except asyncio.TimeoutError:
        raise DeliveryError(f"webhook did not answer within {timeout:g} s") from None
    except aiohttp.ClientConnectorCertificateError:
        raise DeliveryError("webhook TLS certificate not accepted") from None
    except aiohttp.ClientConnectorSSLError:
        raise DeliveryError("webhook TLS handshake failed") from None
    except aiohttp.ClientProxyConnectionError:
        raise DeliveryError("webhook proxy (HTTPS_PROXY) not reachable") from None
    except aiohttp.ClientConnectorError as exc:
        # os.strerror, not str(exc): the latter names the host and port of the partner's system.
        errno = getattr(exc.os_error, "errno", None)
        if isinstance(exc.os_error, socket.gaierror) or errno == socket.EAI_NONAME:
            raise DeliveryError("webhook host name not found") from None
        reason = os.strerror(errno) if isinstance(errno, int) and errno > 0 else "no connection"
        raise DeliveryError(f"webhook connection failed ({reason})") from None
    except aiohttp.ServerDisconnectedError:
        raise DeliveryError("webhook receiver dropped the connection") from None
    except aiohttp.InvalidURL:
        raise DeliveryError("the partner's webhook address is not a valid URL") from None
    except aiohttp.ClientError as exc:
        raise DeliveryError(f"webhook failed ({type(exc).__name__})") from None


# ----------------------------------------------------------------------------------------- both

class Senders:
    """One delivery round's senders; the webhooks share one HTTP connection pool (and a second
    one for partners reached through HTTPS_PROXY)."""

    def __init__(self) -> None:
        self._direct: Optional[aiohttp.ClientSession] = None
        self._proxied: Optional[aiohttp.ClientSession] = None
        self._ssl: Dict[str, ssl.SSLContext] = {}

    async def __aenter__(self) -> "Senders":
        return self

    async def __aexit__(self, *exc) -> None:
        for http in (self._direct, self._proxied):
            if http is not None:
                await http.close()

    def session(self, proxied: bool) -> aiohttp.ClientSession:
        if proxied:
            if self._proxied is None:
                # Only the proxy is looked up here (an administrator's setting); the partner's host
                # is checked by check_webhook_target and looked up by the proxy.
                self._proxied = aiohttp.ClientSession()
            return self._proxied
        if self._direct is None:
            self._direct = aiohttp.ClientSession(connector=aiohttp.TCPConnector(
                resolver=CheckedResolver(), use_dns_cache=False))
        return self._direct

    def ssl_context(self) -> ssl.SSLContext:
        """The system's trusted CAs, plus GIDS_WEBHOOK_CA_FILE when set (a partner's internal CA,
        or the test receiver's own certificate). Hostnames are always verified."""
        cafile = os.environ.get("GIDS_WEBHOOK_CA_FILE", "").strip()
        if cafile not in self._ssl:
            context = ssl.create_default_context()
            if cafile:
                try:
                    context.load_verify_locations(cafile=cafile)
                except (OSError, ssl.SSLError):
                    raise DeliveryError("GIDS_WEBHOOK_CA_FILE cannot be read as PEM certificates") from None
            self._ssl[cafile] = context
        return self._ssl[cafile]

    async def send(self, message) -> None:
        """``message``: an outbox.Leased. Raises DeliveryError when it did not arrive (TargetRefused
        when it must not be tried again by itself)."""
        try:
            payload = json.loads(message.payload)
        except ValueError:
            raise DeliveryError("the stored payload is not valid JSON") from None
        if message.kind == "email":
            await send_email(payload, message.target, message.idempotency_key)
        elif message.kind == "webhook":
            await post_webhook(self, message.target, message.payload.encode("utf-8"),
                               message.idempotency_key, message.partner_id)
        else:
            raise DeliveryError(f"unknown kind of message: {message.kind[:20]}")
