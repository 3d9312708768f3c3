"""flower-edge quantize stage: Keras run -> checked TFLite bundles.

`config.QuantizationConfig` (one variant), `recipe.QuantizeRecipe` (the stage's knobs),
`export.quantize_run(run_dir, recipe, calib_data=None) -> QuantizeResult` (rows of
`verify.VariantRow`). TensorFlow is imported only inside functions.
"""
