"""Pick a TFLite interpreter without importing TensorFlow unless nothing else exists.

Order: ai_edge_litert (the maintained LiteRT wheel, aarch64 cp311/cp313), then
tflite_runtime (the last release, 2.14, cp311 only and numpy<2), then tf.lite
(only when TensorFlow is already installed: a workstation, never a Pi).
"""

from __future__ import annotations

import importlib
import importlib.util
import os

from flower_edge.errors import BundleError, FlowerEdgeError, UsageError
from flower_edge.quiet import quiet

PI_INSTALL = 'pip install "flower-edge[pi]"  (or: pip install ai-edge-litert)'

# (name reported to the user, module holding an `Interpreter` class)
CANDIDATES = (
    ("ai-edge-litert", "ai_edge_litert.interpreter"),
    ("tflite-runtime", "tflite_runtime.interpreter"),
)


def interpreter_class(prefer: str | None = None) -> tuple[type, str]:
    """The first importable Interpreter class and its name (`prefer` = one name only)."""
    tried = []
    for name, module in CANDIDATES:
        if prefer and prefer != name:
            continue
        try:
            return importlib.import_module(module).Interpreter, name
        except ImportError as exc:
            tried.append(f"{name}: {exc}")
        except Exception as exc:  # noqa: BLE001  tflite_runtime + numpy 2 fails with AttributeError etc.
            tried.append(f"{name}: {type(exc).__name__}: {exc}")
    if prefer in (None, "tf.lite") and _tensorflow_installed():
        from flower_edge.tfcompat import tf

        return tf().lite.Interpreter, "tf.lite"
    detail = "; ".join(tried) if prefer else "none of ai-edge-litert, tflite-runtime, tensorflow"
    raise FlowerEdgeError(f"no TFLite interpreter is installed ({detail}); install one with: {PI_INSTALL}")


def _tensorflow_installed() -> bool:
    try:
        return importlib.util.find_spec("tensorflow") is not None
    except (ImportError, ValueError):
        return False


def check_threads(threads: int | None) -> int | None:
    """Validate a thread count: None (the interpreter's default) or >= 1."""
    if threads is None:
        return None
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        cores = os.cpu_count() or 1
        raise UsageError(f"--threads must be a whole number >= 1 (this machine has {cores} cores), "
                         f"got {threads!r}")
    return threads


def make_interpreter(model_path: str | os.PathLike, threads: int | None = None,
                     prefer: str | None = None):
    """Load a .tflite and allocate its tensors: returns (interpreter, interpreter name).

    A truncated or corrupt file, or an op the interpreter lacks, is a one-line BundleError.
    """
    threads = check_threads(threads)
    if not os.path.isfile(model_path):
        raise BundleError(f"model file not found: {model_path} (re-export the bundle)")
    cls, name = interpreter_class(prefer)
    try:
        with quiet():  # LiteRT prints "INFO: Created TensorFlow Lite XNNPACK delegate" to fd 2
            interpreter = cls(model_path=os.fspath(model_path), num_threads=threads)
            interpreter.allocate_tensors()
    except (ValueError, RuntimeError) as exc:
        raise BundleError(_load_error(model_path, name, exc)) from None
    return interpreter, name


def _load_error(model_path, name: str, exc: Exception) -> str:
    text = " ".join(str(exc).split())
    if "not a valid Flatbuffer" in text or "Could not open" in text or "identifier" in text:
        return (f"{model_path} is not a valid .tflite (truncated or corrupt: {text}); "
                f"copy the bundle again or re-export it with 'flower-edge quantize'")
    if "Didn't find op" in text or "opcode" in text:
        return (f"{name} cannot run {model_path}: {text[:200]}; use an int8/fp32/fp16 bundle or "
                f"install ai-edge-litert ({PI_INSTALL})")
    return f"{name} cannot load {model_path}: {text[:200]}; re-export the bundle"
