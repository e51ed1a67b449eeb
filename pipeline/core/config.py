"""Load and validate feeds.yaml.

Every problem becomes one ``ConfigError`` line naming the key path and the offending value,
e.g. ``feeds.yaml: feeds[2].interval: '15x' is not a duration (use 90s, 15m, 2h or 1d)``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AnyHttpUrl,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)

from pipeline.core.errors import ConfigError
from pipeline.core.yamlfile import describe_validation_errors, read_mapping

DEFAULT_CONFIG_PATH = "feeds.yaml"
CONFIG_ENV = "PIPELINE_CONFIG"
DATABASE_ENV = "PIPELINE_DATABASE_URL"
SHIPPED_WATCHLIST = Path(__file__).resolve().parent.parent / "watchlist.yaml"

_DURATION = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*(s|m|h|d)?\s*$")
LEASE_TICKS = 3  # a lease outlives this many scheduler ticks, so a live worker renews it in time
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}


def parse_duration(value: object) -> float:
    """'90s', '15m', '2h', '1d' or a number of seconds -> seconds (> 0)."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration (use 90s, 15m, 2h or 1d)")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise ValueError(f"{value!r} is not a duration (use 90s, 15m, 2h or 1d)")
        seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if seconds <= 0:
        raise ValueError(f"{value!r} must be longer than zero")
    return seconds


Duration = Annotated[float, BeforeValidator(parse_duration)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FetchSettings(_Strict):
    concurrency: int = Field(32, ge=1, le=1000)
    per_host: int = Field(2, ge=1, le=100)
    timeout: float = Field(20.0, gt=0, le=600)  # seconds, connect + read
    deadline: float = Field(60.0, gt=0, le=3600)  # seconds, a whole request incl. redirects
    max_bytes: int = Field(10_000_000, ge=1024)
    max_redirects: int = Field(5, ge=0, le=20)
    user_agent: str = "sanctions-watch/0.1 (+https://github.com/sanctions-watch/sanctions-watch)"
    allow_private_addresses: bool = False
    max_entries_per_poll: int = Field(500, ge=1)
    extract_workers: int | None = Field(None, ge=0, le=64)  # None = one per core; 0 = in-process
    host_delay: float = Field(1.0, ge=0, le=600)  # seconds between requests to one host


class ScheduleSettings(_Strict):
    interval: Duration = 900.0  # default (starting) poll interval per feed
    min_interval: Duration = 600.0  # adaptive intervals move between these two
    max_interval: Duration = 12 * 3600.0
    tick: Duration = 5.0  # how often the daemon looks for due feeds
    jitter: float = Field(0.1, ge=0, le=1)  # +- share of the interval, spreads polls out
    max_backoff: Duration = 6 * 3600.0  # cap of the failure backoff
    failing_after: int = Field(5, ge=1)  # consecutive failures before a feed shows `failing`
    # A claim holds this long unless renewed; live workers renew every lease/4 (heartbeat), so
    # a worker dead on another host loses its feeds within this (pipeline.poll.leases).
    lease: Duration = 60.0


class DedupSettings(_Strict):
    threshold: float = Field(0.5, gt=0, le=1)  # estimated Jaccard for a near-duplicate (README)
    min_words: int = Field(50, ge=1)  # shorter texts use exact hash + title only


class ArchiveSettings(_Strict):
    enabled: bool = True
    path: Path = Path("data/archive")  # relative to the config file
    keep_days: int = Field(90, ge=1)


class WebhookChannel(_Strict):
    name: str = Field(min_length=1, max_length=100)
    url: AnyHttpUrl
    secret: str | None = None  # signs each body (X-Signature: sha256=HMAC)


class EmailChannel(_Strict):
    name: str = Field("email", min_length=1, max_length=100)
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(25, ge=1, le=65535)
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    sender: str = Field(min_length=3)
    to: list[str] = Field(min_length=1)
    digest_interval: Duration = 3600.0


class AppriseChannel(_Strict):
    """Any service Apprise speaks to, by its URL (slack://, msteams://, tgram://, matrix://,
    ntfy://, mailto://, json:// ...: pipeline.alerts.apprise_sender). Secrets go in as
    ${ENV_VAR}, expanded only when sending, so they never show in logs or listings."""

    name: str = Field(min_length=1, max_length=100)
    url: str = Field(min_length=4, max_length=4000, pattern=r"^[A-Za-z][A-Za-z0-9+.-]*://")


class AlertSettings(_Strict):
    webhooks: list[WebhookChannel] = Field(default_factory=list)
    email: EmailChannel | None = None
    apprise: list[AppriseChannel] = Field(default_factory=list)
    max_attempts: int = Field(12, ge=1)  # then a delivery is `failed` (shown, never dropped)


class FeedConfig(_Strict):
    name: str = Field(min_length=1, max_length=200)
    url: AnyHttpUrl
    kind: Literal["feed", "sitemap"] = "feed"
    interval: Duration | None = None  # pins the interval (no adaptive schedule)
    ignore_validators: bool = False  # for servers that answer 304 with stale validators
    tags: list[str] = Field(default_factory=list)

    @field_validator("name")
    @classmethod
    def _strip_name(cls, value: str) -> str:
        if not value.strip():
            raise ValueError(f"{value!r} must not be blank")
        return value.strip()


class Config(_Strict):
    database: str = "sqlite:///data/pipeline.db"
    watchlist: Path = SHIPPED_WATCHLIST
    fetch: FetchSettings = Field(default_factory=FetchSettings)
    schedule: ScheduleSettings = Field(default_factory=ScheduleSettings)
    dedup: DedupSettings = Field(default_factory=DedupSettings)
    archive: ArchiveSettings = Field(default_factory=ArchiveSettings)
    alerts: AlertSettings = Field(default_factory=AlertSettings)
    feeds: list[FeedConfig] = Field(default_factory=list)

    @field_validator("database")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if not value.startswith(("sqlite://", "postgresql")):
            raise ValueError(f"{value!r} is not a sqlite:/// or postgresql+psycopg:// URL")
        return value


def resolve_config_path(cli_path: str | None) -> Path:
    return Path(cli_path or os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG_PATH)


def load_config(path: Path) -> Config:
    """Read, validate and return the config; ConfigError with one line per problem."""
    raw = read_mapping(path, empty_ok=True)
    env_database = os.environ.get(DATABASE_ENV)
    if env_database:
        raw["database"] = env_database
    try:
        config = Config.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_lines(path, describe_validation_errors(exc, raw))) from None
    problems = cross_field_problems(config, raw)
    if problems:
        raise ConfigError(_lines(path, problems))
    return _resolve_paths(config, path, from_file="database" in raw and not env_database)


def _lines(path: Path, problems: list[str]) -> str:
    return "\n".join(f"{path}: {problem}" for problem in problems)


def cross_field_problems(config: Config, raw: dict[str, Any]) -> list[str]:
    """Values that are fine alone but not together, each named with the values as written."""
    schedule = config.schedule
    problems = []

    def written(section: str, key: str, value: object) -> str:
        return repr(raw.get(section, {}).get(key, value))

    if schedule.min_interval > schedule.max_interval:
        problems.append(
            f"schedule.min_interval: {written('schedule', 'min_interval', 600)} must be at most "
            f"schedule.max_interval ({written('schedule', 'max_interval', '12h')})"
        )
    if schedule.lease < LEASE_TICKS * schedule.tick:
        problems.append(
            f"schedule.lease: {written('schedule', 'lease', '10m')} must be at least "
            f"{LEASE_TICKS} x schedule.tick ({written('schedule', 'tick', '5s')}), or a live "
            "worker's feeds are taken over"
        )
    problems += _duplicates("feeds", "feed name", [feed.name for feed in config.feeds])
    channels = [channel.name for channel in config.alerts.webhooks]
    channels += [config.alerts.email.name] if config.alerts.email is not None else []
    channels += [channel.name for channel in config.alerts.apprise]
    problems += _duplicates("alerts", "alert channel name", channels)
    return problems


def _duplicates(section: str, what: str, names: list[str]) -> list[str]:
    seen: set[str] = set()
    problems = []
    for index, name in enumerate(names):
        if name in seen:
            where = f"feeds[{index}].name" if section == "feeds" else "alerts"
            problems.append(f"{where}: duplicate {what} {name!r}")
        seen.add(name)
    return problems


def _resolve_paths(config: Config, path: Path, *, from_file: bool) -> Config:
    """Relative paths written in feeds.yaml are relative to its folder, wherever the command
    runs; the shipped watchlist is absolute already."""
    folder = path.parent.resolve()
    update: dict[str, object] = {"watchlist": folder / config.watchlist}
    update["archive"] = config.archive.model_copy(update={"path": folder / config.archive.path})
    if from_file or "database" not in config.model_fields_set:
        update["database"] = resolve_sqlite_url(config.database, folder)
    return config.model_copy(update=update)


def resolve_sqlite_url(url: str, folder: Path) -> str:
    """A SQLite URL with a relative file path made absolute against `folder`."""
    scheme, _, rest = url.partition(":///")
    if not scheme.startswith("sqlite") or not rest or rest.startswith(("/", ":memory:", "file:")):
        return url
    return f"{scheme}:///{folder / rest}"


def sqlite_file(url: str) -> Path | None:
    """The file a SQLite URL points at (None for other databases and in-memory ones)."""
    scheme, _, rest = url.partition(":///")
    if not scheme.startswith("sqlite") or not rest or rest.startswith(":memory:"):
        return None
    rest = rest.removeprefix("file:").split("?", 1)[0]
    return Path(rest) if rest and rest != ":memory:" else None
