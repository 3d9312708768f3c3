"""flower-edge quantize stage: Keras run -> checked TFLite bundles.

`config.QuantizationConfig` (one variant), `recipe.QuantizeRecipe` (the stage's knobs), both
with the int8 knobs of `options.Int8Options` nested as `int8`,
`export.quantize_run(run_dir, recipe, calib_data=None) -> QuantizeResult` (rows of
`verify.VariantRow`). TensorFlow is imported only inside functions.
"""
