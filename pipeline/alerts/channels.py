"""The two ways an alert leaves the pipeline: a webhook POST per flag, an e-mail digest.

Outbound delivery to operator-configured (trusted) addresses: this module and
``pipeline/fetch/`` are the only ones that open sockets. Every sender returns a
``SendResult``; no library error escapes. A delivery counts as sent only on a 2xx answer (a
webhook) or an accepted message (SMTP): redirects, 4xx, 5xx and connection errors are failed
attempts that the dispatcher retries.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import smtplib
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

import httpx

from pipeline.core.config import EmailChannel, WebhookChannel
from pipeline.core.output import to_jsonable

WEBHOOK_TIMEOUT = 10.0  # seconds; a slow receiver is retried later, not waited for
SMTP_TIMEOUT = 30.0
SIGNATURE_HEADER = "X-Signature"
DELIVERY_HEADER = "X-Delivery-Id"
USER_AGENT = "sanctions-watch-alerts/0.1"


@dataclass(frozen=True, slots=True)
class SendResult:
    ok: bool
    http_status: int | None = None
    error: str | None = None


def delivery_id(channel: str, flag_id: int) -> str:
    """Stable across retries and restarts: receivers dedupe at-least-once deliveries on it."""
    return f"{channel}:{flag_id}"


def webhook_body(channel: str, flag: dict[str, Any]) -> bytes:
    """The flag's JSON fields (DESIGN.md "A flag") plus its delivery id."""
    document = {**to_jsonable(flag), "delivery_id": delivery_id(channel, int(flag["id"]))}
    return json.dumps(document, ensure_ascii=False, sort_keys=True).encode("utf-8")


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


class WebhookSender:
    """POSTs one flag per request; one client (connection pool) for a dispatch round."""

    def __init__(self, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._client = httpx.AsyncClient(
            timeout=WEBHOOK_TIMEOUT,
            follow_redirects=False,  # a redirect is a misconfigured URL: a failed attempt
            transport=transport,
            headers={"User-Agent": USER_AGENT},
        )

    async def send(self, channel: WebhookChannel, flag: dict[str, Any]) -> SendResult:
        body = webhook_body(channel.name, flag)
        headers = {
            "Content-Type": "application/json",
            DELIVERY_HEADER: delivery_id(channel.name, int(flag["id"])),
        }
        if channel.secret:
            headers[SIGNATURE_HEADER] = sign(channel.secret, body)
        try:
            response = await self._client.post(str(channel.url), content=body, headers=headers)
        except httpx.HTTPError as exc:
            return SendResult(False, None, f"{type(exc).__name__}: {exc}"[:500])
        if 200 <= response.status_code < 300:
            return SendResult(True, response.status_code)
        return SendResult(False, response.status_code, f"HTTP {response.status_code}")

    async def aclose(self) -> None:
        await self._client.aclose()


def digest_message(channel: EmailChannel, flags: Sequence[dict[str, Any]]) -> EmailMessage:
    message = EmailMessage()
    message["From"] = channel.sender
    message["To"] = ", ".join(channel.to)
    message["Subject"] = f"sanctions-watch: {len(flags)} new flag(s)"
    lines = [f"{len(flags)} new flag(s) from sanctions-watch.", ""]
    for flag in flags:
        lines += [
            f"#{flag['id']} {flag['entity']} ({flag['matched']})",
            f"  {flag['title']}",
            f"  {flag['url']}",
            f"  feed: {flag['feed']}  first seen: {to_jsonable(flag['first_seen_at'])}",
            f"  {flag['snippet']}",
            "",
        ]
    message.set_content("\n".join(lines))
    return message


def send_digest(channel: EmailChannel, flags: Sequence[dict[str, Any]]) -> SendResult:
    """One message listing every flag (blocking: run it in a thread)."""
    message = digest_message(channel, flags)
    try:
        with smtplib.SMTP(channel.smtp_host, channel.smtp_port, timeout=SMTP_TIMEOUT) as smtp:
            if channel.starttls:
                smtp.starttls()
            if channel.username:
                smtp.login(channel.username, channel.password or "")
            refused = smtp.send_message(message)
    except (smtplib.SMTPException, OSError) as exc:
        code = getattr(exc, "smtp_code", None)
        return SendResult(False, code if isinstance(code, int) else None, _smtp_error(exc))
    if refused:  # some recipients accepted: the digest went out, the rest is in the log line
        return SendResult(True, None, f"refused recipients: {', '.join(sorted(refused))}")
    return SendResult(True)


def _smtp_error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:500]
