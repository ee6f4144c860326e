"""``hash``: put a digest of a rendered template at a field (payment ``sign`` fields and the like).

Seed 003's payment endpoints carry ``sign`` "支付签名MD5加密" without fixing the recipe, so the
recipe is the route's: ``of`` is a template (``{his_order_no}{total}{secrets.pay_key}``) rendered
from the body and secrets, hashed as UTF-8. Hex is lower-case unless ``upper: true``. Secrets a
template names must exist when the config loads.
"""

from __future__ import annotations

import hashlib
import re
from typing import Literal

from pydantic import Field

from bridge.message import Message
from bridge.paths import Path
from bridge.placeholders import Render, compile_string, fmt
from bridge.registry import BuildContext, Example, StepConfig, register_step
from bridge.steps._common import PathText
from bridge.types import Step

_SECRET_REF = re.compile(r"(?<!\{)\{\s*secrets\.([^{}\s]+?)\s*\}")


def check_secret_refs(template: str, ctx: BuildContext, step: str) -> None:
    """A ``{secrets.x}`` naming no secret is a config error, not an empty string at run time."""
    for name in _SECRET_REF.findall(template):
        if name not in ctx.secrets:
            raise ValueError(f"{step}: secret {name!r} is not defined in secrets:")


class HashConfig(StepConfig):
    field: PathText = Field(description="where the hex digest goes")
    algorithm: Literal["md5", "sha256"] = Field(description="digest")
    of: str = Field(description="template of the hashed text, e.g. \"{a}{b}{secrets.key}\"")
    upper: bool = Field(False, description="upper-case hex digits")


class Digest:
    __slots__ = ("path", "algorithm", "render", "upper")

    def __init__(self, path: Path, algorithm: str, render: Render, upper: bool) -> None:
        self.path = path
        self.algorithm = algorithm
        self.render = render
        self.upper = upper

    def __call__(self, msg: Message) -> Message:
        text = fmt(self.render(msg))
        digest = hashlib.new(self.algorithm, text.encode("utf-8")).hexdigest()
        if msg.body is None or msg.body == "":
            msg.body = {}
        self.path.set(msg.body, digest.upper() if self.upper else digest)
        return msg


@register_step("hash", HashConfig, examples=[
    Example(title="seed 003: a payment sign, MD5 of fields and a shared key",
            config={"field": "sign", "algorithm": "md5",
                    "of": "{his_order_no}{total}{secrets.pay_key}"},
            input={"his_order_no": "HIS20240816001", "total": 25.5},
            output={"his_order_no": "HIS20240816001", "total": 25.5,
                    "sign": "29e9aa4170a557bc2b81080efd5ff1ce"},
            secrets={"pay_key": "dev-only-pay-key"}),
    Example(title="SHA-256, upper-case, into a nested field",
            config={"field": "head.digest", "algorithm": "sha256",
                    "of": "{order_id}|{patient_class}|{count}", "upper": True},
            input={"order_id": "A1", "patient_class": "门诊", "count": 12},
            output={"order_id": "A1", "patient_class": "门诊", "count": 12, "head": {
                "digest": "0EE78507B12159707715081E0132A061DF59AFB674561871F2540E54ADAA1B10"}}),
])
def build(cfg: HashConfig, ctx: BuildContext) -> Step:
    """Set a field to the MD5 or SHA-256 hex digest (lower-case unless upper: true) of a
    rendered template, e.g. "{his_order_no}{total}{secrets.pay_key}"."""
    check_secret_refs(cfg.of, ctx, "hash")
    return Digest(Path(cfg.field), cfg.algorithm, compile_string(cfg.of), cfg.upper)
