"""The Pi runtime: loads a bundle and runs it with no TensorFlow import.

    from flower_edge.runtime import Predictor
    Predictor("export/int8", threads=4).predict("rose.jpg", top_k=3)

Submodules are imported on first use so `import flower_edge.runtime` stays cheap.
"""

from __future__ import annotations

__all__ = ["Bundle", "LatencyResult", "Predictor", "load_bundle", "make_interpreter",
           "measure_latency"]

_WHERE = {"Bundle": "bundle", "load_bundle": "bundle", "make_interpreter": "interpreter",
          "Predictor": "predictor", "LatencyResult": "latency", "measure_latency": "latency"}


def __getattr__(name: str):
    if name in _WHERE:
        import importlib

        return getattr(importlib.import_module(f"flower_edge.runtime.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'flower_edge.runtime' has no attribute {name!r}")
