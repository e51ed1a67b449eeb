"""Alerts to any service Apprise speaks to (Slack, Teams, Telegram, Matrix, Discord, ntfy,
e-mail, plain JSON or form posts ...), one notification per flag, by channel URL.

Secrets: a URL is written with ${ENV_VAR} placeholders and expanded from the environment
only here, at send time. The expanded URL never leaves this module: errors and log lines are
built from Apprise's own per-call log with every expanded value replaced by its placeholder,
and `alerts list` shows channel names only.

Outcome: Apprise reports one status per call (SUCCESS, FAILURE, TIMEOUT, NOMATCH, PARTIAL).
Each channel holds exactly one URL, so SUCCESS means this notification was accepted and
anything else is a failed attempt that the dispatcher retries.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from pipeline.alerts.channels import SendResult, delivery_id
from pipeline.core.config import AppriseChannel
from pipeline.core.output import to_jsonable

_PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
CALL_TIMEOUT = 30.0  # seconds for one notification, every retry of the service included
ERROR_LENGTH = 500

# Apprise's own log lines may hold the expanded URL: keep them out of the application's log
# (their text reaches it redacted, through SendResult.error).
logging.getLogger("apprise").propagate = False


class ChannelURLError(Exception):
    """A channel URL that cannot be used (a missing variable, a scheme Apprise lacks)."""


@dataclass(frozen=True, slots=True)
class ExpandedURL:
    url: str
    secrets: dict[str, str]  # placeholder -> the value it stands for

    def redact(self, text: str) -> str:
        """`text` with every secret (as written, or URL-quoted) put back as its placeholder."""
        for placeholder, value in sorted(self.secrets.items(), key=lambda i: -len(i[1])):
            for form in dict.fromkeys((value, quote(value, safe=""), quote(value))):
                if form:
                    text = text.replace(form, placeholder)
        return text


def expand(template: str, environ: Mapping[str, str] | None = None) -> ExpandedURL:
    """The URL with every ${VAR} replaced by the variable's value (ChannelURLError: unset)."""
    environment = os.environ if environ is None else environ
    secrets: dict[str, str] = {}

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in environment:
            raise ChannelURLError(f"${{{name}}} is not set in the environment")
        secrets[match.group(0)] = environment[name]
        return environment[name]

    return ExpandedURL(_PLACEHOLDER.sub(value, template), secrets)


def notification(channel: str, flag: dict[str, Any]) -> tuple[str, str]:
    """(title, body) of one flag's notification, plain text."""
    title = f"sanctions-watch: {flag['entity']}"
    lines = [
        str(flag["title"] or "(no title)"),
        str(flag["url"]),
        f"feed: {flag['feed']} · first seen: {to_jsonable(flag['first_seen_at'])}",
        f"matched: {flag['matched']}",
        str(flag["snippet"]),
        f"flag #{flag['id']} · delivery {delivery_id(channel, int(flag['id']))}",
    ]
    return title, "\n".join(lines)


def send_apprise(
    channel: AppriseChannel, flag: dict[str, Any], environ: Mapping[str, str] | None = None
) -> SendResult:
    """One flag to one Apprise channel (blocking: run it in a thread). Never raises."""
    # Imported on the first alert: Apprise and its plugins are 15 MB in every daemon, most of
    # which never send one.
    import apprise
    from apprise.result import AppriseResultStatus

    try:
        expanded = expand(channel.url, environ)
    except ChannelURLError as exc:
        return SendResult(False, None, f"channel URL: {exc}")
    try:
        notifier = apprise.Apprise()
        if not notifier.add(expanded.url):
            return SendResult(
                False, None, "channel URL: Apprise does not understand this URL (scheme?)"
            )
        title, body = notification(channel.name, flag)
        result = notifier.notify(body=body, title=title, timeout=CALL_TIMEOUT)
    except Exception as exc:  # a plugin's own bug must not stop the dispatcher
        return SendResult(False, None, expanded.redact(f"{type(exc).__name__}: {exc}")[:500])
    status = getattr(result, "status", None)
    if status == AppriseResultStatus.SUCCESS:
        return SendResult(True)
    name = status.name.lower() if isinstance(status, AppriseResultStatus) else "failed"
    return SendResult(False, None, _why(result, name, expanded))


def _why(result: Any, name: str, expanded: ExpandedURL) -> str:
    messages = [entry.message for entry in result.logs() if entry.level in ("WARNING", "ERROR")]
    detail = "; ".join(dict.fromkeys(messages)) or "no detail from Apprise"
    return expanded.redact(f"apprise {name}: {detail}")[:ERROR_LENGTH]
