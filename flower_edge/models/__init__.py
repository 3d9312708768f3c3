"""The ModelSpec registry: every architecture flower-edge can build."""

from flower_edge.models.registry import ModelSpec, get_spec, list_specs, register

__all__ = ["ModelSpec", "get_spec", "list_specs", "register"]
