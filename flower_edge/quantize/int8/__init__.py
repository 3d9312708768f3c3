"""flower-edge's post-training int8 steps, in the order they run (`STEPS` below is that order as code).

Before conversion, on a float copy of the Keras model (`steps.KERAS_STEPS`):
  1. `correct_bias`  - bias_correction.py: biases pre-compensate the mean shift that int8
                       weight rounding will add (default; --no-bias-correction).
In the converter's two phases, on flatbuffers (`steps.FLATBUFFER_STEPS`, plain int8 only:
not int16x8, QAT or keep-float, which the converter does alone):
  2. `calibrate`     - refine.py: the converter's calibration, min/max of every tensor.
  3. `tune_ranges`   - refine.py: MSE activation ranges (default; --activation-ranges minmax).
  4. `quantize`      - refine.py: the converter's own MLIR quantizer (nearest rounding).
  5. `refit_scales`  - refine.py: MSE weight scales (opt-in; --weight-scales mse).
  6. `learn_rounding` - learned_rounding.py: GPTQ picks each weight's int8 code, layer by
                       layer, on the grid already chosen (opt-in; --rounding gptq).
  7. `correct_means` - mean_correction.py: per-channel output means matched to float, layer
                       by layer, in the int8 file (default; --no-mean-correction).
`rounding.py` is the numpy int8 arithmetic they share, `flatbuffer.py` the .tflite reading and
writing. Why each step, with measurements:
docs/int8-fidelity.md.
"""

from flower_edge.quantize.int8.steps import (
    FLATBUFFER_STEPS,
    KERAS_STEPS,
    Int8Job,
    before_conversion,
    convert_steps,
)

STEPS = KERAS_STEPS + FLATBUFFER_STEPS

__all__ = ["FLATBUFFER_STEPS", "KERAS_STEPS", "STEPS", "Int8Job", "before_conversion", "convert_steps"]
