"""Every setting of pixelmotion, read once from ``PIXELMOTION_*`` environment variables.

``Settings`` is the one table of settings: each field that is read from the environment is
declared once with ``setting(...)`` (its type, default, README default and meaning); the
variable is ``PIXELMOTION_`` + the field's name in capitals. ``load_settings`` and the README's
settings table (``config_docs.py``, kept true by tests/test_config.py) both come from it.

Secrets that are not given (the JWT secret, the callback-signing key) are created on first
start and kept in the data directory, so tokens stay valid across restarts.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from pixelmotion import config_values as read
from pixelmotion.config_values import SettingsError as SettingsError
from pixelmotion.config_values import normalize_database_url as normalize_database_url
from pixelmotion.datadir import kept_secret

DEFAULT_PROMPT_TEMPLATE = (
    "Pixel art animation: {prompt}. Bold simple shapes, flat saturated colours, "
    "a plain uncluttered background, the subject centred, steady camera, smooth motion{loop}."
)

# Where the embedded emulator is mounted on the service (loopback callers only).
EMULATOR_MOUNT = "/emulator/luma"

# Luma's limits per account (luma-api.md): generations in flight, creates a minute.
LUMA_MAX_IN_FLIGHT = 10
LUMA_CREATES_PER_MINUTE = 20

ENV_PREFIX = "PIXELMOTION_"

T = TypeVar("T")
Parse = Callable[[str, str], Any]  # (the variable's text, its name) -> the value
Earlier = Mapping[str, Any]  # the settings read so far, by field name


@dataclass(frozen=True)
class Spec:
    """How one environment variable becomes one field of ``Settings``."""

    about: str
    shown: str  # the default, as the README shows it
    parse: Parse | None  # None: from the field's default's type (str, int, float)
    # When the variable is unset or empty: the text to parse instead, from the settings read
    # before it (e.g. the database next to DATA_DIR); None: the field's default as it is.
    unset: Callable[[Earlier], str] | None


def setting(
    default: T,
    about: str,
    *,
    shown: str | None = None,
    parse: Parse | None = None,
    unset: Callable[[Earlier], str] | None = None,
    secret: bool = False,
) -> T:
    """Declare a field of ``Settings`` read from its ``PIXELMOTION_*`` variable."""
    if shown is None:
        shown = "unset" if default in ("", None, frozenset(), ()) else f"`{_shown(default)}`"
    spec = Spec(about=about, shown=shown, parse=parse, unset=unset)
    made: T = field(default=default, repr=not secret, metadata={"spec": spec})
    return made


def _shown(value: object) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _public_url(earlier: Earlier) -> str:
    host = earlier["host"]
    public_host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    return f"http://{public_host}:{earlier['port']}"


def _kept(name: str) -> Callable[[Earlier], str]:
    return lambda earlier: kept_secret(earlier["data_dir"], name)


def _emulator_key(earlier: Earlier) -> str:
    # Generated only where an embedded emulator runs (`pixelmotion emulator` asks for it).
    return emulator_key(earlier["data_dir"]) if earlier["provider"] == "emulator" else ""


def _luma_cap(cap: int) -> Callable[[Earlier], str]:
    return lambda earlier: str(cap) if earlier["provider"] == "luma" else ""


@dataclass(frozen=True)
class Settings:
    host: str = setting("127.0.0.1", "address to listen on")
    port: int = setting(8000, "port to listen on")
    data_dir: Path = setting(  # noqa: RUF009 (setting() declares a field, as field() does)
        Path("var"),
        "database file, objects, kept secrets, emulator clips",
        shown="`./var`",
        parse=read.directory,
        unset=lambda _: "var",
    )
    database_url: str = setting(
        "",
        "`sqlite:///PATH` or `postgresql://…`",
        shown="`sqlite:///DATA_DIR/pixelmotion.db`",
        parse=read.database_url,
        unset=lambda earlier: f"sqlite:///{earlier['data_dir'] / 'pixelmotion.db'}",
    )
    storage_url: str = setting(
        "",
        "where results, paid clips and uploads are stored: `file:///PATH` or `s3://BUCKET[/PREFIX]`",
        shown="`file://DATA_DIR/objects`",
        parse=read.storage_url,
        unset=lambda earlier: f"file://{earlier['data_dir'] / 'objects'}",
    )
    s3_endpoint_url: str = setting(
        "",
        "an S3-compatible server (MinIO, Ceph, R2…), addressed path-style",
        shown="unset (AWS)",
        parse=read.url,
    )
    s3_public_url: str = setting(
        "",
        "the endpoint presigned URLs name, when clients reach the bucket at another address than "
        "the servers do",
        shown="the endpoint",
        parse=read.url,
    )
    s3_region: str = setting("", "the bucket's region", shown="boto3's (`AWS_REGION`…)")
    s3_access_key_id: str = setting(
        "",
        "S3 key id; unset (with the secret): `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`, "
        "`AWS_PROFILE` or an instance role",
        shown="boto3's chain",
    )
    s3_secret_access_key: str = setting("", "its secret", shown="boto3's chain", secret=True)
    retention_days: float = setting(
        0.0,
        "workers delete, for jobs finished longer ago than this, their stored files, events and "
        "provider callbacks (the job row stays; its results then answer 404), and uploads older "
        "than this",
        shown="`0` (keep all)",
        parse=read.non_negative,
    )
    public_url: str = setting(
        "",
        "how the provider reaches our callbacks",
        shown="`http://HOST:PORT`",
        parse=read.url,
        unset=_public_url,
    )
    secret_key: str = setting(
        "",
        "signs callback URLs and keyframe links",
        shown="generated, kept in the data dir",
        parse=read.secret,
        unset=_kept("secret_key"),
        secret=True,
    )
    secret_key_previous: str = setting(
        "",
        "while rotating the key: still verifies callbacks and links signed with it (jobs already in flight)",
        parse=read.secret,
        secret=True,
    )
    jwt_secret: str = setting(
        "",
        "HS256 secret of bearer tokens (at least 32 bytes; placeholders refused)",
        shown="generated, kept in the data dir",
        parse=read.secret,
        unset=_kept("jwt_secret"),
        secret=True,
    )
    jwt_audience: str = setting("authenticated", "the `aud` tokens must carry")
    jwks_url: str = setting(
        "",
        "a JWKS (e.g. Supabase's `/auth/v1/.well-known/jwks.json`) for ES256/RS256 tokens; keys "
        "cached, fetched again for an unknown `kid` (at most every 30 s)",
    )
    luma_api_key: str = setting("", "set → the real Luma API")
    provider: str = setting(
        "emulator",
        "`luma` or `emulator`",
        shown="`luma` if a key is set, else `emulator`",
        parse=read.provider,
        unset=lambda earlier: "luma" if earlier["luma_api_key"] else "emulator",
    )
    luma_base_url: str = setting(
        "", "point the Luma client elsewhere (e.g. a standalone emulator)", shown="Luma's"
    )
    emulator_api_key: str = setting(
        "",
        "the key the emulator accepts",
        shown="random, kept in the data dir (`emulator_api_key`)",
        unset=_emulator_key,
        secret=True,
    )
    emulator_dream_seconds: float = setting(5.0, 'how long the emulator "dreams"')
    emulator_clip_dir: Path | None = setting(  # noqa: RUF009 (a field, as above)
        None,
        "where the emulator keeps rendered clips (shareable)",
        shown="`DATA_DIR/emulator/clips`",
        parse=read.path,
    )
    emulator_faults: str = setting("", "fault injection, e.g. `drop_callbacks=1.0,create_429=0.2`")
    emulator_prompt_faults: bool = setting(
        False,
        "`1` honours `[[fault:…]]` directives in prompts (tests only)",
        shown="`0`",
        parse=read.flag,
    )
    emulator_allowed_hosts: frozenset[str] = setting(
        frozenset(),
        "non-public `host[:port]` the emulator may call back and fetch keyframes from, besides this "
        "service's own callback and keyframe paths",
        parse=read.hosts,
    )
    emulator_max_in_flight: int | None = setting(
        None,
        "the emulated account's generations at once (Luma's tier: 10); past it, 429",
        shown="unset (unlimited)",
        parse=read.cap,
    )
    emulator_creates_per_minute: int | None = setting(
        None,
        "the emulated account's creates a minute (Luma's tier: 20); past it, 429",
        shown="unset (unlimited)",
        parse=read.cap,
    )
    emulator_credit_cents: float = setting(
        100_000.0, "the emulated account's starting credit balance (`GET /credits`), in USD cents"
    )
    prompt_template: str = setting(
        DEFAULT_PROMPT_TEMPLATE,
        "wraps the user's prompt; must contain `{prompt}` (`{loop}` optional)",
        shown="pixel-art style template",
        parse=read.template,
    )
    allowed_asset_hosts: frozenset[str] = setting(
        frozenset(),
        "comma-separated `host` or `host:port` we may download from although they are not public "
        "addresses (all else internal is refused)",
        parse=read.hosts,
    )
    provider_timeout_seconds: float = setting(30.0, "timeout of each call to the provider")
    allowed_webhook_hosts: frozenset[str] = setting(
        frozenset(),
        "`host[:port]` webhooks may reach although not public (e.g. loopback in tests)",
        parse=read.hosts,
    )
    webhook_retry_schedule: str = setting(
        "",
        "seconds before each retry of a failed webhook (about 3 days), with ±10% jitter",
        shown="`0,5,300,1800,7200,18000,36000,50400,72000,86400`",
    )
    webhook_timeout_seconds: float = setting(15.0, "each webhook POST's timeout")
    log_format: str = setting(
        "json",
        "`json` (one object a line, with `request_id` and `job_id`) or `text`",
        parse=read.log_format,
    )
    user_max_active_jobs: int = setting(20, "unfinished jobs one user may have (429 `TOO_MANY_ACTIVE_JOBS`)")
    user_jobs_per_hour: int = setting(200, "jobs one user may start in an hour (429 `HOURLY_LIMIT`)")
    max_streams_per_user: int | None = setting(
        20,
        "event streams one user may hold open per API process (429 `TOO_MANY_STREAMS`; `off`: no cap)",
        parse=read.cap,
    )
    user_uploads_per_hour: int = setting(30, "uploads one user may make in an hour (429 `UPLOAD_RATE_LIMIT`)")
    user_upload_bytes: int = setting(
        2 * 1024**3, "bytes of uploads one user may keep (413 `UPLOAD_QUOTA`)", shown="`2147483648` (2 GiB)"
    )
    unused_upload_hours: float = setting(
        24.0, "an upload no job used is deleted this long after it came, even with retention off"
    )
    user_daily_budget_usd: float | None = setting(
        None,
        "a user's estimated provider spend a day (429 `DAILY_BUDGET`); each job shows `estimatedCostUsd`",
        shown="unset (off)",
        parse=read.optional_float,
    )
    # The provider account's limits, service-wide (providers/caps.py); None: off.
    provider_max_in_flight: int | None = setting(
        None,
        "generations in flight at once, service-wide (every process); more jobs wait in `pending` "
        "with a `queuePosition`; `off` turns it off",
        shown=f"`{LUMA_MAX_IN_FLIGHT}` with Luma, off with the emulator",
        parse=read.cap,
        unset=_luma_cap(LUMA_MAX_IN_FLIGHT),
    )
    provider_creates_per_minute: int | None = setting(
        None,
        "creates sent in any minute, service-wide; `off` turns it off",
        shown=f"`{LUMA_CREATES_PER_MINUTE}` with Luma, off with the emulator",
        parse=read.cap,
        unset=_luma_cap(LUMA_CREATES_PER_MINUTE),
    )
    min_credit_cents: float | None = setting(
        None,
        "below this provider credit balance (USD cents) new jobs wait in `pending`, `/healthz` "
        "answers 503 saying why, and an error is logged",
        shown="unset (off)",
        parse=read.optional_non_negative,
    )
    daily_budget_usd: float | None = setting(
        None,
        "the whole service's estimated provider spend a day (UTC); past it new jobs wait in "
        "`pending` until 00:00 UTC",
        shown="unset (off)",
        parse=read.optional_non_negative,
    )
    credit_check_seconds: float = setting(
        60.0, "how often each process reads the provider's credit balance", parse=read.positive
    )
    max_request_bytes: int = setting(1024 * 1024, "largest request body outside uploads (413)")
    header_timeout_seconds: float = setting(
        10.0,
        "a connection whose request headers are not complete this long after they start is closed "
        "(slow loris)",
        parse=read.positive,
    )
    max_connections: int | None = setting(
        1000, "open connections per API process; past it, refused (`off`: no cap)", parse=read.cap
    )
    cors_origins: tuple[str, ...] = setting(
        (),
        "comma-separated origins whose pages may call the API (editors embedding `/static/pixelmotion.js`)",
        parse=read.origins,
    )
    callback_grace_seconds: float = setting(90.0, "silence after which the worker asks the provider itself")
    job_deadline_seconds: float = setting(900.0, "a job not finished by then fails with `TIMEOUT`")
    max_video_bytes: int = setting(200 * 1024 * 1024, "largest clip we download")
    worker_concurrency: int = setting(4, "jobs one worker handles at once")
    lease_seconds: float = setting(
        60.0,
        "how long a claimed job stays a worker's without renewal (renewed every third of it); a "
        "killed worker's jobs are taken over after this",
        parse=read.positive,
    )
    auth_retry_seconds: float = setting(
        30.0,
        "while the provider refuses our API key, how often a pending job tries again",
        parse=read.positive,
    )
    # Not read from the environment (sensible defaults; tests set them).
    # URL prefixes (scheme://host:port/path/) fetched without the address check, only below
    # that path: the embedded emulator's clips on our own address (not its API, not ours).
    allowed_asset_prefixes: frozenset[str] = frozenset()
    worker_poll_seconds: float = 0.5
    process_workers: int = field(default_factory=lambda: max(1, (os.cpu_count() or 2) - 1))

    @property
    def database_file(self) -> Path | None:
        prefix = "sqlite:///"
        return Path(self.database_url[len(prefix) :]) if self.database_url.startswith(prefix) else None

    @property
    def verifying_keys(self) -> tuple[str, ...]:
        """Keys that verify callback tokens and keyframe links: the current one signs."""
        return tuple(k for k in (self.secret_key, self.secret_key_previous) if k)

    @property
    def callback_base_url(self) -> str:
        return self.public_url.rstrip("/")

    @property
    def local_url(self) -> str:
        """This server as a process on the same host reaches it (never through a proxy)."""
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "", "localhost") else self.host
        return f"http://{f'[{host}]' if ':' in host else host}:{self.port}"

    @property
    def emulator_root_url(self) -> str:
        """The embedded emulator, on this server's own address (it answers local callers only)."""
        return f"{self.local_url}{EMULATOR_MOUNT}"

    @property
    def emulator_base_url(self) -> str:
        """Where the embedded emulator's Luma routes answer (the SDK's base_url)."""
        return f"{self.emulator_root_url}/dream-machine/v1"


def specs() -> list[tuple[str, Spec]]:
    """Each setting read from the environment: its variable and how, in declaration order."""
    return [
        (ENV_PREFIX + f.name.upper(), f.metadata["spec"]) for f in fields(Settings) if "spec" in f.metadata
    ]


_PARSE_BY_TYPE: dict[type, Parse] = {str: lambda value, name: value, int: read.integer, float: read.number}


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read the environment into one ``Settings``, filling derived and generated values."""
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    for spec_field in fields(Settings):
        spec: Spec | None = spec_field.metadata.get("spec")
        if spec is None:
            continue
        name = ENV_PREFIX + spec_field.name.upper()
        text = env.get(name, "").strip()
        if not text and spec.unset is None:
            values[spec_field.name] = spec_field.default
            continue
        if not text and spec.unset is not None:
            text = spec.unset(values)
        parse = spec.parse or _PARSE_BY_TYPE[type(spec_field.default)]
        values[spec_field.name] = parse(text, name)
    if values["provider"] == "luma" and not values["luma_api_key"]:
        raise SettingsError("PIXELMOTION_PROVIDER=luma needs PIXELMOTION_LUMA_API_KEY")
    if values["provider"] == "emulator" and not values["luma_base_url"]:
        # The embedded emulator serves its clips from our own (local) address: that path
        # only, on that port only.
        local = Settings(host=values["host"], port=values["port"]).local_url
        values["allowed_asset_prefixes"] = frozenset({own_url_prefix(local, EMULATOR_MOUNT + "/assets/")})
    return Settings(**values)


def own_url_prefix(public_url: str, path: str) -> str:
    """``scheme://host:port/path/`` under PUBLIC_URL, the port always written (the address
    guard's prefix form)."""
    parts = urlsplit(public_url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    base = parts.path.rstrip("/")
    return f"{parts.scheme}://{(parts.hostname or '').lower()}:{port}{base}{path.rstrip('/')}/"


def emulator_key(data_dir: Path) -> str:
    """The emulator's API key of this data directory: random, made once, kept 0600."""
    return kept_secret(data_dir, "emulator_api_key")
