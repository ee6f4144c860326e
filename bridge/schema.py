"""JSON Schema of routes.yaml, from the same pydantic models that validate it."""

from __future__ import annotations

from typing import Any

from bridge.config.models import BridgeConfig
from bridge.registry import load_builtin_steps


def step_schemas() -> dict[str, Any]:
    out = {}
    for name, spec in sorted(load_builtin_steps().items()):
        schema = spec.model.model_json_schema()
        schema.setdefault("description", spec.summary)
        out[name] = schema
    return out


def config_schema() -> dict[str, Any]:
    schema = BridgeConfig.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "bridge routes.yaml"
    defs = schema.setdefault("$defs", {})
    alternatives = []
    for name, sub in step_schemas().items():
        local_defs = sub.pop("$defs", {})
        defs.update(local_defs)
        key = f"Step_{name}"
        defs[key] = sub
        alternatives.append({"type": "object", "properties": {name: {"$ref": f"#/$defs/{key}"}},
                             "required": [name], "additionalProperties": False})
    step_ref = {"anyOf": alternatives}
    defs["PipelineStep"] = step_ref
    for model in ("RouteConfig", "ReplyConfig"):
        if model in defs and "pipeline" in defs[model]["properties"]:
            defs[model]["properties"]["pipeline"]["items"] = {"$ref": "#/$defs/PipelineStep"}
    return schema
