"""The ModelSpec registry: every architecture flower-edge can build, by name.

No other module may branch on a model's name: everything architecture-specific
lives in a spec. Importing this module imports no TensorFlow.
"""

from __future__ import annotations

from flower_edge.errors import UsageError
from flower_edge.models.modelspec import PREPROCESSING, ModelSpec

__all__ = ["ModelSpec", "get_spec", "list_specs", "register"]

_REGISTRY: dict[str, ModelSpec] = {}
_BUILTIN_LOADED = False


def register(spec: ModelSpec) -> ModelSpec:
    """Add a spec to the registry (names are unique, built-in ones included)."""
    _load_builtin()
    if spec.name in _REGISTRY:
        raise ValueError(f"model spec {spec.name!r} registered twice")
    if spec.preprocessing not in PREPROCESSING:
        raise ValueError(f"unknown preprocessing {spec.preprocessing!r}")
    _REGISTRY[spec.name] = spec
    return spec


def get_spec(name: str) -> ModelSpec:
    """Look a spec up by name, with a one-line error listing the choices."""
    _load_builtin()
    try:
        return _REGISTRY[name]
    except KeyError:
        names = ", ".join(s.name for s in list_specs())
        raise UsageError(f"unknown model '{name}' (choose one of: {names})") from None


def list_specs(include_testing: bool = False) -> list[ModelSpec]:
    """All registered specs, user-facing ones only unless asked."""
    _load_builtin()
    return [s for s in _REGISTRY.values() if include_testing or not s.testing]


def _load_builtin() -> None:
    """Register the built-in specs on first use; `specs.py` only lists them, so it
    needs nothing from this module (no import cycle)."""
    global _BUILTIN_LOADED
    if _BUILTIN_LOADED:
        return
    from flower_edge.models.specs import BUILTIN

    _BUILTIN_LOADED = True
    for spec in BUILTIN:
        register(spec)
