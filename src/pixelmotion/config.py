"""Every setting of pixelmotion, read once from ``PIXELMOTION_*`` environment variables.

Secrets that are not given (the JWT secret, the callback-signing key) are created on first
start and kept in the data directory, so tokens stay valid across restarts.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

DEFAULT_PROMPT_TEMPLATE = (
    "Pixel art animation: {prompt}. Bold simple shapes, flat saturated colours, "
    "a plain uncluttered background, the subject centred, steady camera, smooth motion{loop}."
)


# Where the embedded emulator is mounted on the service (loopback callers only).
EMULATOR_MOUNT = "/emulator/luma"

# Luma's limits per account (luma-api.md): generations in flight, creates a minute.
LUMA_MAX_IN_FLIGHT = 10
LUMA_CREATES_PER_MINUTE = 20


class SettingsError(ValueError):
    """A setting has a value pixelmotion cannot use."""


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: Path = Path("var")
    database_url: str = ""
    storage_url: str = ""
    # S3-compatible storage (used when storage_url is s3://…); empty: boto3's usual sources.
    s3_endpoint_url: str = ""
    s3_public_url: str = ""
    s3_region: str = ""
    s3_access_key_id: str = ""
    s3_secret_access_key: str = field(default="", repr=False)
    retention_days: float = 0.0  # 0: keep everything
    public_url: str = ""
    secret_key: str = ""
    secret_key_previous: str = field(default="", repr=False)  # still verifies, while rotating
    jwt_secret: str = ""
    jwt_audience: str = "authenticated"
    jwks_url: str = ""
    luma_api_key: str = ""
    provider: str = "emulator"
    luma_base_url: str = ""
    # The emulator's key: PIXELMOTION_EMULATOR_API_KEY, else random, kept in the data dir.
    emulator_api_key: str = field(default="", repr=False)
    emulator_dream_seconds: float = 5.0
    emulator_faults: str = ""
    # Honour [[fault:...]] directives in prompts (PIXELMOTION_EMULATOR_PROMPT_FAULTS=1): tests only.
    emulator_prompt_faults: bool = False
    # Non-public hosts (host or host:port) the emulator may call back and fetch keyframes from,
    # besides this service's own callback and keyframe paths (PIXELMOTION_EMULATOR_ALLOWED_HOSTS).
    emulator_allowed_hosts: frozenset[str] = frozenset()
    emulator_clip_dir: Path | None = None
    emulator_max_in_flight: int | None = None  # the emulated account's tier; None: unlimited
    emulator_creates_per_minute: int | None = None
    emulator_credit_cents: float = 100_000.0
    prompt_template: str = DEFAULT_PROMPT_TEMPLATE
    # Worker tuning (not in the plan; sensible defaults).
    worker_concurrency: int = 4
    worker_poll_seconds: float = 0.5
    lease_seconds: float = 60.0
    auth_retry_seconds: float = 30.0
    provider_timeout_seconds: float = 30.0
    callback_grace_seconds: float = 90.0
    job_deadline_seconds: float = 900.0
    max_video_bytes: int = 200 * 1024 * 1024
    allowed_asset_hosts: frozenset[str] = frozenset()
    # URL prefixes (scheme://host:port/path/) fetched without the address check, only below
    # that path: the embedded emulator's clips on our own address (not its API, not ours).
    allowed_asset_prefixes: frozenset[str] = frozenset()
    cors_origins: tuple[str, ...] = ()
    user_max_active_jobs: int = 20
    user_jobs_per_hour: int = 200
    user_daily_budget_usd: float | None = None
    # The provider account's limits, service-wide (providers/caps.py); None: off.
    provider_max_in_flight: int | None = None
    provider_creates_per_minute: int | None = None
    min_credit_cents: float | None = None
    daily_budget_usd: float | None = None
    credit_check_seconds: float = 60.0
    max_request_bytes: int = 1024 * 1024
    # A connection whose request headers are not complete this long after they start is
    # closed (slow loris); connections past max_connections are refused (0: no cap).
    header_timeout_seconds: float = 10.0
    max_connections: int | None = 1000
    log_format: str = "json"
    allowed_webhook_hosts: frozenset[str] = frozenset()
    webhook_retry_schedule: str = ""
    webhook_timeout_seconds: float = 15.0
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


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read the environment into one ``Settings``, filling derived and generated values."""
    env = os.environ if env is None else env

    def get(name: str, default: str = "") -> str:
        return env.get(f"PIXELMOTION_{name}", default).strip()

    host = get("HOST", "127.0.0.1")
    port = _int(get("PORT", "8000"), "PIXELMOTION_PORT")
    data_dir = Path(get("DATA_DIR", "var")).expanduser().resolve()
    luma_api_key = get("LUMA_API_KEY")
    provider = get("PROVIDER") or ("luma" if luma_api_key else "emulator")
    if provider not in ("luma", "emulator"):
        raise SettingsError("PIXELMOTION_PROVIDER must be 'luma' or 'emulator'")
    if provider == "luma" and not luma_api_key:
        raise SettingsError("PIXELMOTION_PROVIDER=luma needs PIXELMOTION_LUMA_API_KEY")
    template = get("PROMPT_TEMPLATE") or DEFAULT_PROMPT_TEMPLATE
    if "{prompt}" not in template:
        raise SettingsError("PIXELMOTION_PROMPT_TEMPLATE must contain {prompt}")
    public_host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    public_url = (get("PUBLIC_URL") or f"http://{public_host}:{port}").rstrip("/")
    allowed_hosts = {h.strip().lower() for h in get("ALLOWED_ASSET_HOSTS").split(",") if h.strip()}
    allowed_prefixes: set[str] = set()
    if provider == "emulator" and not get("LUMA_BASE_URL"):
        # The embedded emulator serves its clips from our own (local) address: that path
        # only, on that port only.
        local = Settings(host=host, port=port).local_url
        allowed_prefixes.add(own_url_prefix(local, EMULATOR_MOUNT + "/assets/"))
    return Settings(
        host=host,
        port=port,
        data_dir=data_dir,
        database_url=normalize_database_url(
            get("DATABASE_URL") or f"sqlite:///{data_dir / 'pixelmotion.db'}"
        ),
        storage_url=_storage_url(get("STORAGE_URL") or f"file://{data_dir / 'objects'}"),
        s3_endpoint_url=get("S3_ENDPOINT_URL").rstrip("/"),
        s3_public_url=get("S3_PUBLIC_URL").rstrip("/"),
        s3_region=get("S3_REGION"),
        s3_access_key_id=get("S3_ACCESS_KEY_ID"),
        s3_secret_access_key=get("S3_SECRET_ACCESS_KEY"),
        retention_days=_non_negative(
            _float(get("RETENTION_DAYS", "0"), "PIXELMOTION_RETENTION_DAYS"), "PIXELMOTION_RETENTION_DAYS"
        ),
        public_url=public_url,
        allowed_asset_hosts=frozenset(allowed_hosts),
        allowed_asset_prefixes=frozenset(allowed_prefixes),
        allowed_webhook_hosts=frozenset(
            h.strip().lower() for h in get("ALLOWED_WEBHOOK_HOSTS").split(",") if h.strip()
        ),
        webhook_retry_schedule=get("WEBHOOK_RETRY_SCHEDULE"),
        webhook_timeout_seconds=_float(
            get("WEBHOOK_TIMEOUT_SECONDS", "15"), "PIXELMOTION_WEBHOOK_TIMEOUT_SECONDS"
        ),
        log_format=_choice(get("LOG_FORMAT", "json"), ("json", "text"), "PIXELMOTION_LOG_FORMAT"),
        user_max_active_jobs=_int(get("USER_MAX_ACTIVE_JOBS", "20"), "PIXELMOTION_USER_MAX_ACTIVE_JOBS"),
        user_jobs_per_hour=_int(get("USER_JOBS_PER_HOUR", "200"), "PIXELMOTION_USER_JOBS_PER_HOUR"),
        user_daily_budget_usd=_float(get("USER_DAILY_BUDGET_USD"), "PIXELMOTION_USER_DAILY_BUDGET_USD")
        if get("USER_DAILY_BUDGET_USD")
        else None,
        provider_max_in_flight=_cap(
            get("PROVIDER_MAX_IN_FLIGHT"),
            LUMA_MAX_IN_FLIGHT if provider == "luma" else None,
            "PIXELMOTION_PROVIDER_MAX_IN_FLIGHT",
        ),
        provider_creates_per_minute=_cap(
            get("PROVIDER_CREATES_PER_MINUTE"),
            LUMA_CREATES_PER_MINUTE if provider == "luma" else None,
            "PIXELMOTION_PROVIDER_CREATES_PER_MINUTE",
        ),
        min_credit_cents=_optional_float(get("MIN_CREDIT_CENTS"), "PIXELMOTION_MIN_CREDIT_CENTS"),
        daily_budget_usd=_optional_float(get("DAILY_BUDGET_USD"), "PIXELMOTION_DAILY_BUDGET_USD"),
        credit_check_seconds=_positive(
            _float(get("CREDIT_CHECK_SECONDS", "60"), "PIXELMOTION_CREDIT_CHECK_SECONDS"),
            "PIXELMOTION_CREDIT_CHECK_SECONDS",
        ),
        max_request_bytes=_int(get("MAX_REQUEST_BYTES", str(1024 * 1024)), "PIXELMOTION_MAX_REQUEST_BYTES"),
        header_timeout_seconds=_positive(
            _float(get("HEADER_TIMEOUT_SECONDS", "10"), "PIXELMOTION_HEADER_TIMEOUT_SECONDS"),
            "PIXELMOTION_HEADER_TIMEOUT_SECONDS",
        ),
        max_connections=_cap(get("MAX_CONNECTIONS"), 1000, "PIXELMOTION_MAX_CONNECTIONS"),
        cors_origins=tuple(o.strip().rstrip("/") for o in get("CORS_ORIGINS").split(",") if o.strip()),
        secret_key=_given_secret(get("SECRET_KEY"), "PIXELMOTION_SECRET_KEY")
        or _kept_secret(data_dir, "secret_key"),
        secret_key_previous=_given_secret(get("SECRET_KEY_PREVIOUS"), "PIXELMOTION_SECRET_KEY_PREVIOUS"),
        jwt_secret=_given_secret(get("JWT_SECRET"), "PIXELMOTION_JWT_SECRET")
        or _kept_secret(data_dir, "jwt_secret"),
        jwt_audience=get("JWT_AUDIENCE", "authenticated"),
        jwks_url=get("JWKS_URL"),
        luma_api_key=luma_api_key,
        provider=provider,
        luma_base_url=get("LUMA_BASE_URL"),
        # Generated only where an embedded emulator runs (`pixelmotion emulator` asks for it).
        emulator_api_key=get("EMULATOR_API_KEY")
        or (emulator_key(data_dir) if provider == "emulator" else ""),
        emulator_dream_seconds=_float(
            get("EMULATOR_DREAM_SECONDS", "5"), "PIXELMOTION_EMULATOR_DREAM_SECONDS"
        ),
        emulator_faults=get("EMULATOR_FAULTS"),
        emulator_prompt_faults=_flag(get("EMULATOR_PROMPT_FAULTS"), "PIXELMOTION_EMULATOR_PROMPT_FAULTS"),
        emulator_allowed_hosts=frozenset(
            h.strip().lower() for h in get("EMULATOR_ALLOWED_HOSTS").split(",") if h.strip()
        ),
        emulator_clip_dir=Path(get("EMULATOR_CLIP_DIR")).resolve() if get("EMULATOR_CLIP_DIR") else None,
        emulator_max_in_flight=_cap(
            get("EMULATOR_MAX_IN_FLIGHT"), None, "PIXELMOTION_EMULATOR_MAX_IN_FLIGHT"
        ),
        emulator_creates_per_minute=_cap(
            get("EMULATOR_CREATES_PER_MINUTE"), None, "PIXELMOTION_EMULATOR_CREATES_PER_MINUTE"
        ),
        emulator_credit_cents=_float(
            get("EMULATOR_CREDIT_CENTS", "100000"), "PIXELMOTION_EMULATOR_CREDIT_CENTS"
        ),
        prompt_template=template,
        worker_concurrency=_int(get("WORKER_CONCURRENCY", "4"), "PIXELMOTION_WORKER_CONCURRENCY"),
        callback_grace_seconds=_float(
            get("CALLBACK_GRACE_SECONDS", "90"), "PIXELMOTION_CALLBACK_GRACE_SECONDS"
        ),
        provider_timeout_seconds=_float(
            get("PROVIDER_TIMEOUT_SECONDS", "30"), "PIXELMOTION_PROVIDER_TIMEOUT_SECONDS"
        ),
        job_deadline_seconds=_float(get("JOB_DEADLINE_SECONDS", "900"), "PIXELMOTION_JOB_DEADLINE_SECONDS"),
        lease_seconds=_positive(
            _float(get("LEASE_SECONDS", "60"), "PIXELMOTION_LEASE_SECONDS"), "PIXELMOTION_LEASE_SECONDS"
        ),
        auth_retry_seconds=_positive(
            _float(get("AUTH_RETRY_SECONDS", "30"), "PIXELMOTION_AUTH_RETRY_SECONDS"),
            "PIXELMOTION_AUTH_RETRY_SECONDS",
        ),
        max_video_bytes=_int(get("MAX_VIDEO_BYTES", str(200 * 1024 * 1024)), "PIXELMOTION_MAX_VIDEO_BYTES"),
    )


def own_url_prefix(public_url: str, path: str) -> str:
    """``scheme://host:port/path/`` under PUBLIC_URL, the port always written (the address
    guard's prefix form)."""
    parts = urlsplit(public_url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    base = parts.path.rstrip("/")
    return f"{parts.scheme}://{(parts.hostname or '').lower()}:{port}{base}{path.rstrip('/')}/"


def normalize_database_url(url: str) -> str:
    """Map ``postgresql://`` to the pinned psycopg 3 driver; keep SQLite paths as given."""
    for prefix in ("postgresql://", "postgres://", "postgresql+psycopg2://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    if url.startswith(("sqlite:///", "postgresql+psycopg://")):
        return url
    raise SettingsError("PIXELMOTION_DATABASE_URL must start with sqlite:/// or postgresql://")


def _storage_url(url: str) -> str:
    if not url.startswith(("file://", "s3://")):
        raise SettingsError("PIXELMOTION_STORAGE_URL must start with file:// or s3://")
    if url.startswith("s3://") and not url[len("s3://") :].split("/", 1)[0]:
        raise SettingsError("PIXELMOTION_STORAGE_URL needs a bucket: s3://BUCKET[/PREFIX]")
    return url


MIN_SECRET_BYTES = 32
PLACEHOLDER_PREFIXES = ("change-me", "changeme", "replace-me")


def _given_secret(value: str, name: str) -> str:
    """A secret from the environment: refused when it is a placeholder (as in
    deploy/pixelmotion.env.example) or too short to resist guessing; empty stays empty
    (then one is generated and kept in the data directory)."""
    if not value:
        return value
    if value.lower().startswith(PLACEHOLDER_PREFIXES):
        raise SettingsError(f"{name} is a placeholder; set a random value (openssl rand -base64 32)")
    if len(value.encode()) < MIN_SECRET_BYTES:
        raise SettingsError(
            f"{name} must be at least {MIN_SECRET_BYTES} bytes long (openssl rand -base64 32); "
            "unset, one is generated and kept in the data directory"
        )
    return value


def emulator_key(data_dir: Path) -> str:
    """The emulator's API key of this data directory: random, made once, kept 0600."""
    return _kept_secret(data_dir, "emulator_api_key")


def _kept_secret(data_dir: Path, name: str) -> str:
    path = data_dir / name
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    value = secrets.token_urlsafe(32)
    # O_EXCL: when two processes start at once, the first one's secret wins.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(value)
    return value


def _int(value: str, name: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise SettingsError(f"{name} must be an integer") from None


def _positive(value: float, name: str) -> float:
    if value <= 0:
        raise SettingsError(f"{name} must be greater than 0")
    return value


def _non_negative(value: float, name: str) -> float:
    if value < 0:
        raise SettingsError(f"{name} must be 0 or more")
    return value


def _cap(value: str, default: int | None, name: str) -> int | None:
    """A limit: unset takes the default, "off" (or 0) turns it off, else a positive integer."""
    if not value:
        return default
    if value.lower() in ("off", "0"):
        return None
    number = _int(value, name)
    if number < 0:
        raise SettingsError(f"{name} must be a positive integer or 'off'")
    return number


def _optional_float(value: str, name: str) -> float | None:
    return _non_negative(_float(value, name), name) if value else None


def _float(value: str, name: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise SettingsError(f"{name} must be a number") from None


def _flag(value: str, name: str) -> bool:
    if value.lower() in ("", "0", "false", "no", "off"):
        return False
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    raise SettingsError(f"{name} must be 1 or 0")


def _choice(value: str, choices: tuple[str, ...], name: str) -> str:
    if value not in choices:
        raise SettingsError(f"{name} must be one of: {', '.join(choices)}")
    return value
