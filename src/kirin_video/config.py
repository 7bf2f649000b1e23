"""Settings: the one place that reads the environment (``KIRIN_*``)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

EncoderName = Literal["auto", "libx264", "h264_nvenc"]
EngineName = Literal["auto", "preview", "diffusers"]
DtypeName = Literal["auto", "bf16", "fp16", "fp32"]
OffloadName = Literal["none", "model", "sequential"]
#: libx264's speed/size trade-offs, fastest first.
EncodePreset = Literal[
    "ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow"
]

#: USD per task by ``model:mode:duration``; ``*`` matches any model.
DEFAULT_PRICES: dict[str, Decimal] = {
    "*:std:5": Decimal("0.2800"),
    "*:std:10": Decimal("0.5600"),
    "*:pro:5": Decimal("0.4900"),
    "*:pro:10": Decimal("0.9800"),
}


#: Run deadlines (seconds) by mode and duration: several times what one H100 takes with the
#: 14B model, so a real GPU meets them with room and only a stuck run reaches them.
DEFAULT_TASK_TIMEOUTS: dict[str, float] = {
    "std:5": 1800.0,
    "std:10": 3600.0,
    "pro:5": 3600.0,
    "pro:10": 7200.0,
}


class Settings(BaseSettings):
    """Every knob of the server, worker and CLI, read from ``KIRIN_*`` variables."""

    model_config = SettingsConfigDict(env_prefix="KIRIN_", extra="ignore")

    data_dir: Path = Path("./kirin-data")
    database_url: str | None = None
    api_keys: Annotated[list[str], NoDecode] = Field(default_factory=list)
    jwt_max_lifetime_s: int = Field(default=24 * 3600, gt=0)  # exp at most this after iat and now
    engine: EngineName = "auto"
    public_url: str | None = None
    allow_private_urls: bool = False
    broker_url: str | None = None  # redis://host:6379/0: tasks go to `kirin worker` processes
    storage_url: str | None = None  # s3://bucket/prefix; default: a directory in the data dir
    s3_endpoint_url: str | None = None  # an S3-compatible service; AWS_ENDPOINT_URL works too

    # The diffusers engine (docs/engines.md explains each one).
    model_path: str | None = None  # Hugging Face repo id or a local diffusers-format directory
    device: str | None = None  # cuda, cuda:N or cpu; default: cuda when present
    dtype: DtypeName = "auto"  # auto: bf16 on GPU, fp32 on CPU
    inference_steps: int = Field(default=30, ge=1)  # std
    pro_inference_steps: int = Field(default=50, ge=1)
    native_short_side: int = Field(default=480, ge=16)  # std
    pro_short_side: int = Field(default=720, ge=16)
    native_fps: int = Field(default=16, ge=1)
    max_native_frames: int = Field(default=81, ge=5)  # the network's window; longer is segmented
    segment_overlap: int = Field(default=9, ge=1)  # frames that carry motion into a segment
    guidance_scale: float = Field(default=5.0, ge=1.0)  # the model's recommended value
    flow_shift: float | None = None  # overrides the scheduler's, e.g. 5.0 for 720p
    cpu_offload: OffloadName = "none"
    vae_tiling: bool = False
    vae_slicing: bool = False
    attention_backend: str | None = None  # a diffusers backend name, e.g. flash or _native_cudnn
    # torch.compile: true, the whole transformer; regional, its repeated blocks (compiles faster).
    compile: bool | Literal["regional"] = False
    # Speed switches (docs/engines.md, "Fast generation"): LoRAs fused at load, "SOURCE[:STRENGTH]".
    loras: Annotated[list[tuple[str, float]], NoDecode] = Field(default_factory=list)
    loras_2: Annotated[list[tuple[str, float]], NoDecode] = Field(default_factory=list)  # Wan2.2
    distilled: bool = False  # the weights of model_path are step-distilled themselves
    std_profile: Literal["quality", "fast"] = "quality"
    pro_profile: Literal["quality", "fast"] = "quality"
    fast_steps: int = Field(default=4, ge=1)
    fast_guidance_scale: float = Field(default=1.0, ge=1.0)  # 1.0: one network pass per step
    fast_scheduler: Literal["euler", "unipc"] = "euler"  # flow-matching Euler, as LightX2V's
    fast_flow_shift: float = Field(default=5.0, gt=0)
    cache: Literal["none", "first-block", "taylorseer"] = "none"
    cache_threshold: float = Field(default=0.05, gt=0)  # first-block: skip below this change
    cache_interval: int = Field(default=3, ge=1)  # taylorseer: steps predicted between full ones
    cache_warmup_steps: int = Field(default=3, ge=1)  # taylorseer: full steps before predicting
    quantize: Literal["none", "fp8"] = "none"  # fp8: torchao, on a GPU of compute capability 8.9+
    text_encoder_offload: bool = False  # on the GPU only while it encodes a prompt
    prompt_cache_size: int = Field(default=32, ge=0)  # (prompt, negative prompt) embeddings kept

    @field_validator("loras", "loras_2", mode="before")
    @classmethod
    def _split_loras(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        return [cls._lora_entry(entry.strip()) for entry in value.split(",") if entry.strip()]

    @staticmethod
    def _lora_entry(text: str) -> tuple[str, float]:
        """``SOURCE[:STRENGTH]``: a number after the last colon is the strength, else 1."""
        source, _, tail = text.rpartition(":")
        try:
            return (source, float(tail)) if source else (text, 1.0)
        except ValueError:
            return text, 1.0

    @model_validator(mode="after")
    def _fast_needs_distilled_weights(self) -> Settings:
        for mode in ("std", "pro"):
            if getattr(self, f"{mode}_profile") == "fast" and not (self.loras or self.distilled):
                raise ValueError(
                    f"KIRIN_{mode.upper()}_PROFILE=fast needs step-distilled weights, and "
                    "KIRIN_LORAS is empty and KIRIN_DISTILLED is false: set KIRIN_LORAS to a "
                    "distill LoRA (e.g. LightX2V's), or KIRIN_DISTILLED=true if "
                    "KIRIN_MODEL_PATH is a distilled checkpoint"
                )
        return self

    # Callbacks (docs/api.md, "Callbacks").
    webhook_secret: str | None = None  # for keys from KIRIN_API_KEYS; issued keys have their own
    webhook_max_attempts: int = Field(default=10, ge=1)
    webhook_backoff_s: float = Field(default=15.0, gt=0)  # before the first retry
    webhook_backoff_factor: float = Field(default=3.0, ge=1)
    webhook_backoff_max_s: float = Field(default=8 * 3600.0, gt=0)
    webhook_timeout_s: float = Field(default=10.0, gt=0)
    webhook_concurrency: int = Field(default=16, ge=1)
    webhook_per_host: int = Field(default=4, ge=1)
    webhook_per_key: int = Field(default=4, ge=1)  # one key's sends in flight, on each node
    webhook_poll_s: float = Field(default=1.0, gt=0)

    # The Kling routes (docs/kling-compat.md): which `model_name` each route answers.
    kling_model: str = "kling-v1-6"  # when a request names none
    kling_i2v_models: list[str] = Field(
        default_factory=lambda: ["kling-v1", "kling-v1-5", "kling-v1-6"]
    )  # /v1/videos/image2video → kirin_v1_6_i2v
    kling_multi_models: list[str] = Field(
        default_factory=lambda: ["kling-v1-6"]
    )  # /v1/videos/multi-image2video → kirin_v1_6_multi_i2v

    # The OpenAI Videos routes (docs/openai-compat.md): other `model` names for each model, such
    # as the names a gateway or tool sends, and how long the SDK's poller waits between reads.
    openai_i2v_models: list[str] = Field(default_factory=list)  # → kirin_v1_6_i2v
    openai_multi_models: list[str] = Field(default_factory=list)  # → kirin_v1_6_multi_i2v
    openai_poll_after_ms: int = Field(default=1000, ge=0)

    @model_validator(mode="after")
    def _openai_names_mean_one_model(self) -> Settings:
        both = sorted(set(self.openai_i2v_models) & set(self.openai_multi_models))
        if both:
            raise ValueError(
                f"KIRIN_OPENAI_I2V_MODELS and KIRIN_OPENAI_MULTI_MODELS must not share a name; "
                f"both have {', '.join(both)}"
            )
        return self

    # Abuse limits, per API key (docs/api.md, "Limits").
    rate_limit: str = "100/second"  # requests, in the `limits` notation: "5/second", "600/minute"
    rate_limit_storage: str = "memory://"  # e.g. redis://host:6379 to share it between API nodes
    max_unfinished_tasks: int = Field(default=100, ge=1)  # pending + processing

    # Output encoding: CPU time per video against file size (README, "Configuration").
    encode_preset: EncodePreset = "veryfast"
    encoder: EncoderName = "auto"  # auto: NVENC where it runs here, else libx264
    conform_on_device: bool | None = None  # retime and resize on the GPU; default: on CUDA

    max_body_bytes: int = 64 * 1024 * 1024
    # Connections, held by `kirin serve` itself (docs/deploy.md, "Connections").
    header_timeout_s: float = Field(default=10.0, gt=0)  # a request's head, once connected or idle
    body_timeout_s: float = Field(default=30.0, gt=0)  # silence allowed inside a request's body
    keepalive_s: int = Field(default=5, ge=1)  # an idle kept-alive connection is closed after
    max_connections: int | None = Field(default=None, ge=1)  # default: from the open-file limit
    fetch_timeout_s: float = 10.0
    file_url_ttl_s: int = 24 * 3600
    workers: int = Field(default=1, ge=0)  # embedded worker threads; 0 = API only
    max_attempts: int = 3  # tries of a task whose worker dies under it, then 8002005098
    # The engine in a child process per slot (docs/deploy.md, "Faults"); false: in the worker.
    engine_child: bool = True
    # Encode a task while the engine renders the slot's next one (docs/performance.md).
    overlap: bool = True
    task_timeout_s: float | None = Field(default=None, gt=0)  # every run; default: by mode
    cancel_grace_s: float = Field(default=5.0, ge=0)  # a told child gets this long to stop
    stream_poll_s: float = Field(default=0.5, gt=0)  # how often a node reads its streams' tasks
    stream_ping_s: float = Field(default=15.0, gt=0)  # keep-alive comments on an idle stream
    streams_per_key: int = Field(default=32, ge=1)  # open task streams of one key, on each node

    # Several nodes (docs/deploy.md).
    lease_s: float = Field(default=60.0, gt=0)  # a worker silent this long has lost its task
    shutdown_grace_s: float = Field(default=30.0, ge=0)  # to finish a task, then hand it back
    log_format: Literal["text", "json"] = "text"
    log_level: str = "INFO"
    prices: dict[str, Decimal] = Field(default_factory=lambda: dict(DEFAULT_PRICES))
    discount: float = 0.0

    @field_validator("api_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: object) -> object:
        if isinstance(value, str):
            return [key.strip() for key in value.split(",") if key.strip()]
        return value

    @property
    def sqlalchemy_url(self) -> str:
        """The database URL, defaulting to a SQLite file inside the data dir."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'kirin.db').resolve()}"

    @property
    def outputs_dir(self) -> Path:
        return self.data_dir / "outputs"

    def task_timeout(self, *, mode: str, duration: int) -> float:
        """A run's deadline in seconds: ``KIRIN_TASK_TIMEOUT_S``, else the default by mode."""
        if self.task_timeout_s is not None:
            return self.task_timeout_s
        return DEFAULT_TASK_TIMEOUTS.get(f"{mode}:{duration}", max(DEFAULT_TASK_TIMEOUTS.values()))

    def price(self, *, model: str, mode: str, duration: int) -> Decimal:
        """Cost of one task from the price table, most specific entry first."""
        for key in (f"{model}:{mode}:{duration}", f"*:{mode}:{duration}"):
            if key in self.prices:
                return self.prices[key]
        return Decimal("0")


class ClientSettings(BaseSettings):
    """Where the CLI's client commands send requests (``KIRIN_SERVER_URL``, ``KIRIN_API_KEY``)."""

    model_config = SettingsConfigDict(env_prefix="KIRIN_", extra="ignore")

    server_url: str | None = None
    api_key: str | None = None
