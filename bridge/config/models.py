"""The typed shape of routes.yaml (DESIGN §3). Steps bring their own models (bridge.steps)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from bridge.auth import AuthConfig, NoAuth

from bridge.config.units import Duration, Size

Format = Literal["xml", "soap", "json", "form"]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class ServerConfig(Model):
    listen: str = Field("0.0.0.0:8080", description="HOST:PORT; --listen and BRIDGE_LISTEN override")
    max_body: Size = Field(2 * 1024 * 1024, description="larger requests get 413 before being read")
    max_depth: int = Field(100, ge=4, le=1000, description="deepest XML/JSON nesting accepted")
    drain_timeout: Duration = Field(10.0, description="bound on the SIGTERM drain of in-flight requests")
    read_timeout: Duration = Field(30.0, description="time allowed to receive a request body (408 after)")
    backlog: int = Field(1024, ge=1, le=65535,
                         description="connections the kernel holds before the bridge accepts them "
                                     "(capped by net.core.somaxconn); read at start, not on reload")

    @field_validator("listen")
    @classmethod
    def _listen(cls, v: str) -> str:
        host, sep, port = v.rpartition(":")
        if not sep or not port.isdigit() or not 0 <= int(port) < 65536:
            raise ValueError(f"expected HOST:PORT, got {v!r}")
        return v


class LoggingConfig(Model):
    level: Literal["debug", "info", "warning", "error"] = "info"
    pii: list[str] = Field(default_factory=list, description="field names masked in logs, "
                           "added to the built-in list (sfzh, idNum, id_no, lxdh, phone_no, hzxm, ...)")
    format: Literal["json", "console"] = "json"


class RetryConfig(Model):
    attempts: int = Field(1, ge=1, le=100_000, description="every try counts, the first included")
    backoff: Duration = 0.1
    max_backoff: Duration = 2.0


class BreakerConfig(Model):
    failures: int = Field(5, ge=1)
    cooldown: Duration = 30.0


class TargetConfig(Model):
    type: Literal["http"] = "http"
    url: str
    timeout: Duration = 10.0
    retry: RetryConfig | None = None
    concurrency: int = Field(100, ge=1, le=10000, description="max in-flight requests to this target")
    breaker: BreakerConfig | None = None
    headers: dict[str, str] = Field(default_factory=dict)

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError(f"expected an http:// or https:// URL, got {v!r}")
        return v.rstrip("/")


class SoapOptions(Model):
    version: Literal["1.1", "1.2"] = "1.1"
    operation: str | None = None
    namespace: str | None = None
    action: str | None = None
    param: str | None = Field(None, description="string parameter carrying a whole XML document")
    reply_param: str | None = Field(None, description="string parameter of the reply carrying XML")
    root: str | None = Field(None, description="root element of the document inside `param`")


class MatchConfig(Model):
    root: str | None = None
    operation: str | None = None
    field: str | None = None
    equals: Any = None
    in_: list[Any] | None = Field(None, alias="in")

    @model_validator(mode="after")
    def _one_kind(self) -> "MatchConfig":
        kinds = [k for k in ("root", "operation", "field") if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError("give exactly one of root, operation, field")
        if self.field is not None and self.equals is None and self.in_ is None:
            raise ValueError("field needs equals or in")
        return self


class InboundConfig(Model):
    path: str
    format: Format
    match: MatchConfig | None = None
    lists: list[str] = Field(default_factory=list, description="dotted paths that are always lists")
    charset: str = "auto"
    recover: bool = False
    auth: Annotated[AuthConfig, Field(discriminator="type")] = Field(default_factory=NoAuth)
    soap: SoapOptions | None = None

    @field_validator("path")
    @classmethod
    def _path(cls, v: str) -> str:
        if not v.startswith("/"):
            raise ValueError("path must start with /")
        return v


class SuccessRule(Model):
    path: str
    equals: Any = None
    not_equals: Any = None
    in_: list[Any] | None = Field(None, alias="in")
    gt: float | None = None
    lt: float | None = None
    message: str | list[str] | None = Field(None, description=(
        "path of the target's own message; a list: the first path present wins"))

    def messages(self) -> list[str]:
        return [self.message] if isinstance(self.message, str) else list(self.message or [])

    @model_validator(mode="after")
    def _one_op(self) -> "SuccessRule":
        ops = [k for k in ("equals", "not_equals", "in_", "gt", "lt") if getattr(self, k) is not None]
        if len(ops) != 1:
            raise ValueError("give exactly one of equals, not_equals, in, gt, lt")
        return self


class OutboundConfig(Model):
    target: str
    path: str = ""
    method: Literal["POST", "PUT", "PATCH", "GET", "DELETE"] = "POST"
    format: Format = "json"
    delivery: Literal["sync", "queued"] = "sync"
    idempotent: bool = False
    success: SuccessRule | None = None
    root: str | None = None
    namespace: str | None = None
    charset: str = "utf-8"
    headers: dict[str, str] = Field(default_factory=dict)
    lists: list[str] = Field(default_factory=list, description="lists in the target's XML reply")
    soap: SoapOptions | None = None
    ordered_by: str | None = None


class ReplyConfig(Model):
    pipeline: list[Any] = Field(default_factory=list)
    root: str | None = None
    namespace: str | None = None


class ErrorsConfig(Model):
    template: Any = None
    root: str | None = None
    status: int | None = Field(None, ge=200, le=599,
                               description="answer errors with this HTTP status (legacy callers)")
    fault: bool = Field(True, description=(
        "SOAP: false answers errors as a normal SOAP response whose return carries the rendered "
        "template (the vendor's business failure shape, e.g. ResultCode 1), HTTP `status` or 200"))


class RouteConfig(Model):
    name: str
    description: str = ""
    inbound: InboundConfig
    pipeline: list[Any] = Field(default_factory=list)
    outbound: OutboundConfig
    reply: ReplyConfig | None = None
    errors: ErrorsConfig | None = None

    @model_validator(mode="after")
    def _errors_fit_the_dialect(self) -> "RouteConfig":
        errors, fmt = self.errors, self.inbound.format
        if errors is None:
            return self
        if fmt == "soap" and errors.fault and errors.status is not None:
            raise ValueError("errors.status has no effect on a SOAP Fault (SOAP 1.1 answers every "
                             "fault with 500): set errors.fault: false to answer the template as a "
                             "normal response with that status")
        if fmt != "soap" and not errors.fault:
            raise ValueError("errors.fault applies to SOAP routes only")
        return self


class BridgeConfig(Model):
    version: Literal[1] = 1
    server: ServerConfig = Field(default_factory=ServerConfig)
    store: str = "sqlite:///bridge.db"
    secrets: dict[str, str] = Field(default_factory=dict)
    logging: LoggingConfig = Field(default_factory=LoggingConfig)
    targets: dict[str, TargetConfig] = Field(default_factory=dict)
    routes: list[RouteConfig] = Field(default_factory=list)
