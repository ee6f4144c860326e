"""``encrypt`` / ``decrypt``: per-field AES, the way platforms protect phone and id numbers.

Seed 004 (imaging cloud) sends ``phoneNum`` and ``idNum`` as AES-256-ECB, hex encoded, keyed by
the 32-character signature token. The key (and CBC's iv) is the UTF-8 bytes of a ``secrets:``
entry named in the config: checked when the config loads (defined, 32 bytes for AES-256, 16 for
the iv), never copied into messages or logs. Padding is PKCS#7. Null and ``""`` are left as
they are; a value that cannot be decrypted is the caller's error (422) naming only the field.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any, Callable, Literal

from Crypto.Cipher import AES
from Crypto.Util.Padding import pad, unpad
from pydantic import Field, model_validator

from bridge.errors import ValidationFailed
from bridge.paths import Path
from bridge.placeholders import fmt
from bridge.registry import BuildContext, Example, StepConfig, register_step
from bridge.steps._common import PathText, as_list, each_scalar, is_empty, UpdateFields
from bridge.types import Step

# Fake keys for the documented examples: 32 and 16 characters, clearly not secrets.
DEV_KEY = "dev-only-key-not-a-secret-000032"
DEV_IV = "dev-only-iv-0016"


class CryptConfig(StepConfig):
    fields: list[PathText] = Field(min_length=1, description="paths of the values")
    algorithm: Literal["aes-256-ecb", "aes-256-cbc"] = Field(description="cipher and mode")
    key: str = Field(description="name of the secret holding the key (32 bytes UTF-8)")
    encoding: Literal["hex", "base64"] = Field("hex", description="text form of the ciphertext")
    iv: str | None = Field(None, description="aes-256-cbc: name of the secret holding the iv "
                                             "(16 bytes UTF-8)")
    upper: bool = Field(False, description="encrypt, hex: upper-case hex digits")

    @model_validator(mode="before")
    @classmethod
    def _lists(cls, raw: Any) -> Any:
        if isinstance(raw, dict) and "fields" in raw:
            raw = {**raw, "fields": as_list(raw["fields"])}
        return raw

    @model_validator(mode="after")
    def _iv(self) -> "CryptConfig":
        if self.algorithm == "aes-256-cbc" and self.iv is None:
            raise ValueError("aes-256-cbc needs iv: (the name of a 16-byte secret)")
        if self.algorithm == "aes-256-ecb" and self.iv is not None:
            raise ValueError("aes-256-ecb takes no iv")
        if self.upper and self.encoding != "hex":
            raise ValueError("upper applies to hex encoding only")
        return self


def secret_bytes(ctx: BuildContext, step: str, name: str, size: int, what: str) -> bytes:
    """The secret's UTF-8 bytes, checked for presence and length; errors name it, never show it."""
    if name not in ctx.secrets:
        raise ValueError(f"{step}: {what} secret {name!r} is not defined in secrets:")
    data = str(ctx.secrets[name]).encode("utf-8")
    if len(data) != size:
        raise ValueError(f"{step}: {what} secret {name!r} must be exactly {size} bytes "
                         f"(UTF-8) for {'AES-256' if what == 'key' else 'the AES iv'}, "
                         f"it has {len(data)}")
    return data


def _cipher_factory(cfg: CryptConfig, ctx: BuildContext, step: str) -> Callable[[], Any]:
    key = secret_bytes(ctx, step, cfg.key, 32, "key")
    if cfg.algorithm == "aes-256-cbc":
        assert cfg.iv is not None
        iv = secret_bytes(ctx, step, cfg.iv, 16, "iv")
        return lambda: AES.new(key, AES.MODE_CBC, iv=iv)  # CBC state: one object per value
    ecb = AES.new(key, AES.MODE_ECB)   # ECB keeps no state between blocks: one object for all
    return lambda: ecb


def encryptor(cfg: CryptConfig, new: Callable[[], Any]) -> Callable[[Any], Any]:
    hexed, upper = cfg.encoding == "hex", cfg.upper

    def enc(value: Any) -> Any:
        if is_empty(value):
            return value
        data = new().encrypt(pad(fmt(value).encode("utf-8"), AES.block_size))
        if hexed:
            text = data.hex()
            return text.upper() if upper else text
        return base64.b64encode(data).decode("ascii")
    return enc


def decryptor(cfg: CryptConfig, new: Callable[[], Any], path: str) -> Callable[[Any], Any]:
    hexed = cfg.encoding == "hex"

    def dec(value: Any) -> Any:
        if is_empty(value):
            return value
        if not isinstance(value, str):
            raise ValidationFailed(f"decrypt: {path}: not {cfg.encoding} ciphertext",
                                   detail={"field": path})
        try:
            data = (bytes.fromhex(value.strip()) if hexed
                    else base64.b64decode(value.strip(), validate=True))
        except (ValueError, binascii.Error):
            raise ValidationFailed(f"decrypt: {path}: not {cfg.encoding} ciphertext",
                                   detail={"field": path}) from None
        try:
            if not data or len(data) % AES.block_size:
                raise ValueError
            return unpad(new().decrypt(data), AES.block_size).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            # Same words for every cause: no padding oracle, nothing about the key.
            raise ValidationFailed(f"decrypt: {path}: cannot be decrypted with the configured key",
                                   detail={"field": path}) from None
    return dec


_SEED_004_PLAIN = {"hospitalId": "H0001", "phoneNum": "13800138000",
                   "idNum": "110101199003077777"}
_SEED_004_SEALED = {"hospitalId": "H0001", "phoneNum": "498a041611e5fca02879ac6b3a46af4a",
                    "idNum": "1a9dce10b714217c3b2a56e7f7c0255c"
                             "c933e4f559a064b29cc392986b20fe23"}


@register_step("encrypt", CryptConfig, examples=[
    Example(title="seed 004: phoneNum and idNum as AES-256-ECB + hex, keyed by the token",
            config={"fields": ["phoneNum", "idNum"], "algorithm": "aes-256-ecb",
                    "key": "imaging_token", "encoding": "hex"},
            input=_SEED_004_PLAIN, output=_SEED_004_SEALED,
            secrets={"imaging_token": DEV_KEY}),
    Example(title="CBC with an iv, base64, on every list item; empty values left alone",
            config={"fields": ["patients.phone"], "algorithm": "aes-256-cbc", "key": "k",
                    "iv": "iv", "encoding": "base64"},
            input={"patients": [{"phone": "13800138000"}, {"phone": ""}]},
            output={"patients": [{"phone": "evQykV1IvwTr44aCohHKtQ=="}, {"phone": ""}]},
            secrets={"k": DEV_KEY, "iv": DEV_IV}),
])
def build_encrypt(cfg: CryptConfig, ctx: BuildContext) -> Step:
    """Encrypt the values at paths with AES-256 (ECB or CBC, PKCS#7) as hex (lower-case unless
    upper: true) or base64; key and iv are named secrets of exactly 32 and 16 bytes."""
    enc = each_scalar(encryptor(cfg, _cipher_factory(cfg, ctx, "encrypt")))
    return UpdateFields([(Path(p), enc) for p in cfg.fields])


@register_step("decrypt", CryptConfig, examples=[
    Example(title="seed 004: the imaging cloud's encrypted fields back to plain text",
            config={"fields": ["phoneNum", "idNum"], "algorithm": "aes-256-ecb",
                    "key": "imaging_token"},
            input=_SEED_004_SEALED, output=_SEED_004_PLAIN,
            secrets={"imaging_token": DEV_KEY}),
    Example(title="a value that is not ciphertext is a 422 naming the field",
            config={"fields": ["phoneNum"], "algorithm": "aes-256-ecb", "key": "imaging_token"},
            input={"phoneNum": "13800138000"}, error="ValidationFailed",
            secrets={"imaging_token": DEV_KEY}),
])
def build_decrypt(cfg: CryptConfig, ctx: BuildContext) -> Step:
    """Decrypt AES-256 (ECB or CBC, PKCS#7) hex or base64 values at paths back to text; a value
    that does not decrypt is a 422 naming the field, never the key."""
    new = _cipher_factory(cfg, ctx, "decrypt")
    return UpdateFields([(Path(p), each_scalar(decryptor(cfg, new, p))) for p in cfg.fields])
