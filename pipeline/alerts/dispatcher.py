"""The alert dispatcher: new flags go out on every configured channel, at least once.

The database is the queue (alert_delivery, one row per flag and channel), so nothing is lost
across restarts and several workers share the work. One round:

1. sync: a channel seen for the first time is recorded with its creation time; flags older
   than the channel are never sent on it (adding a webhook does not replay the archive);
2. enqueue: a pending row for every newer flag that has none on the channel yet;
3. deliver, each channel on its own (a failing webhook never holds back e-mail or another
   channel): claim due rows under a lease, send, settle. A webhook gets one POST per flag,
   an Apprise channel (pipeline.alerts.apprise_sender) one notification per flag;
   e-mail gets one digest of every due flag once the oldest has waited `digest_interval`
   (or at once with `flush`, as `pipeline run --once` does).

A failed attempt is retried after 30 s * 2^(attempts - 1), capped at 1 h and jittered, until
`alerts.max_attempts`; then the row is `failed` (kept and listed; `pipeline alerts retry`
queues it again).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx

from pipeline.alerts.apprise_sender import send_apprise
from pipeline.alerts.channels import SendResult, WebhookSender, send_digest
from pipeline.core import backoff
from pipeline.core.clock import utcnow
from pipeline.core.config import AlertSettings, AppriseChannel, EmailChannel, WebhookChannel
from pipeline.core.errors import PipelineError
from storage.repository import DueDelivery, Repository

log = logging.getLogger("pipeline.alerts.dispatcher")

DISPATCH_EVERY = 10.0  # seconds between rounds in the daemon
RETRY_BASE = 30.0  # seconds before the first retry
RETRY_CAP = 3600.0
RETRY_JITTER = 0.2
LEASE = 300.0  # a claimed row is due again after this if its dispatcher died mid-send
WEBHOOK_BATCH = 20  # rows claimed at a time per webhook
DIGEST_BATCH = 500  # flags per digest message


@dataclass
class DispatchReport:
    """What one round did, per channel: rows sent and attempts failed."""

    enqueued: int = 0
    sent: dict[str, int] = field(default_factory=dict)
    failed_attempts: dict[str, int] = field(default_factory=dict)

    def count(self, channel: str, result: SendResult, rows: int = 1) -> None:
        tally = self.sent if result.ok else self.failed_attempts
        tally[channel] = tally.get(channel, 0) + rows


class AlertDispatcher:
    def __init__(
        self,
        settings: AlertSettings,
        repository: Repository,
        *,
        clock: Callable[[], datetime] = utcnow,
        rng: random.Random | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.settings = settings
        self.repository = repository
        self.clock = clock
        self.rng = rng or random.Random()
        self._transport = transport
        self._synced = False

    @property
    def configured(self) -> bool:
        return bool(self.settings.webhooks or self.settings.email or self.settings.apprise)

    def channels(self) -> dict[str, str]:
        """Configured channel name -> kind."""
        kinds = {channel.name: "webhook" for channel in self.settings.webhooks}
        if self.settings.email is not None:
            kinds[self.settings.email.name] = "email"
        for channel in self.settings.apprise:  # the scheme only: the URL may hold secrets
            kinds[channel.name] = "apprise:" + channel.url.split(":", 1)[0].lower()
        return kinds

    def sync(self) -> None:
        """Record new channels (before polling, so that this run's flags are sent)."""
        if self.configured:
            self.repository.sync_alert_channels(self.channels(), self.clock())
        self._synced = True

    async def dispatch(self, *, flush: bool = False) -> DispatchReport:
        """One round: enqueue new flags, then deliver what is due on every channel."""
        report = DispatchReport()
        if not self.configured:
            return report
        if not self._synced:
            await asyncio.to_thread(self.sync)
        report.enqueued = await asyncio.to_thread(
            self.repository.enqueue_deliveries, list(self.channels()), self.clock()
        )
        sender = WebhookSender(self._transport)
        try:
            jobs: list[Awaitable[None]] = [
                self._guarded(channel.name, self._deliver_webhook(sender, channel, report))
                for channel in self.settings.webhooks
            ]
            jobs += [
                self._guarded(channel.name, self._deliver_apprise(channel, report))
                for channel in self.settings.apprise
            ]
            if self.settings.email is not None:
                email = self.settings.email
                jobs.append(self._guarded(email.name, self._deliver_digest(email, report, flush)))
            await asyncio.gather(*jobs)
        finally:
            await sender.aclose()
        return report

    async def _guarded(self, channel: str, job: Awaitable[None]) -> None:
        # One channel's database or programming error must not stop the other channels; its
        # claimed rows are due again when their lease ends.
        try:
            await job
        except PipelineError as exc:
            log.error("alert channel %s: %s", channel, exc, extra={"stage": "alert"})
        except Exception:
            log.exception("alert channel %s failed", channel, extra={"stage": "alert"})

    async def _deliver_webhook(
        self, sender: WebhookSender, channel: WebhookChannel, report: DispatchReport
    ) -> None:
        while batch := await self._claim(channel.name, WEBHOOK_BATCH):
            flags = await asyncio.to_thread(
                self.repository.alert_flags, [due.flag_id for due in batch]
            )
            for due in batch:
                flag = flags.get(due.flag_id)
                if flag is None:  # cannot happen while flags are never deleted; be explicit
                    result = SendResult(False, None, f"flag {due.flag_id} not found")
                else:
                    result = await sender.send(channel, flag)
                await self._settle(due, result)
                report.count(channel.name, result)
            if len(batch) < WEBHOOK_BATCH:
                return

    async def _deliver_apprise(self, channel: AppriseChannel, report: DispatchReport) -> None:
        """One notification per flag, like a webhook; Apprise's calls block: a thread each."""
        while batch := await self._claim(channel.name, WEBHOOK_BATCH):
            flags = await asyncio.to_thread(
                self.repository.alert_flags, [due.flag_id for due in batch]
            )
            for due in batch:
                flag = flags.get(due.flag_id)
                if flag is None:
                    result = SendResult(False, None, f"flag {due.flag_id} not found")
                else:
                    result = await asyncio.to_thread(send_apprise, channel, flag)
                await self._settle(due, result)
                report.count(channel.name, result)
            if len(batch) < WEBHOOK_BATCH:
                return

    async def _deliver_digest(
        self, channel: EmailChannel, report: DispatchReport, flush: bool
    ) -> None:
        if not flush:
            oldest = await asyncio.to_thread(
                self.repository.oldest_due_delivery, channel.name, self.clock()
            )
            if oldest is None:
                return
            if self.clock() - oldest < timedelta(seconds=channel.digest_interval):
                return
        while batch := await self._claim(channel.name, DIGEST_BATCH):
            found = await asyncio.to_thread(
                self.repository.alert_flags, [due.flag_id for due in batch]
            )
            flags = [found[due.flag_id] for due in batch if due.flag_id in found]
            result = await asyncio.to_thread(send_digest, channel, flags)
            for due in batch:
                await self._settle(due, result)
            report.count(channel.name, result, len(batch))
            if not result.ok or len(batch) < DIGEST_BATCH:
                return

    async def _claim(self, channel: str, limit: int) -> list[DueDelivery]:
        now = self.clock()
        return await asyncio.to_thread(
            self.repository.claim_deliveries,
            channel,
            now=now,
            lease_until=now + timedelta(seconds=LEASE),
            limit=limit,
        )

    async def _settle(self, due: DueDelivery, result: SendResult) -> None:
        now = self.clock()
        retry_at = backoff.after_failure(
            now,
            interval=RETRY_BASE,
            failures=due.attempts + 1,
            max_backoff=RETRY_CAP,
            jitter=RETRY_JITTER,
            rng=self.rng,
        )
        status = await asyncio.to_thread(
            self.repository.mark_delivery,
            due.id,
            sent=result.ok,
            now=now,
            http_status=result.http_status,
            error=result.error,
            retry_at=retry_at,
            max_attempts=self.settings.max_attempts,
        )
        fields: dict[str, Any] = {
            "stage": "alert",
            "channel": due.channel,
            "flag_id": due.flag_id,
            "status": status,
        }
        if result.ok:
            log.info("alert %s sent on %s", due.flag_id, due.channel, extra=fields)
        else:
            fields["error"] = result.error
            log.warning(
                "alert %s on %s failed (attempt %d, %s): %s",
                due.flag_id,
                due.channel,
                due.attempts + 1,
                status,
                result.error,
                extra=fields,
            )
