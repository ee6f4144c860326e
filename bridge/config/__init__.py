"""routes.yaml: loading, interpolation, validation with file:line:col errors."""

from bridge.config.loader import Loaded, load
from bridge.config.models import BridgeConfig, RouteConfig, TargetConfig

__all__ = ["BridgeConfig", "Loaded", "RouteConfig", "TargetConfig", "load"]
