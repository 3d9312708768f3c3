"""Discriminative (layer-wise) learning rates for fine-tuning.

The lowest backbone layer steps at `ratio` x the phase's rate, rising geometrically with
depth to the full rate at the top of the backbone; the head always steps at the full rate.

Written by hand because no kept library does it: tf_keras optimizers have one learning
rate, and TF Addons' MultiOptimizer went with TF Addons. Scaling a layer's gradients
instead would do nothing under Adam or RMSprop, which divide each gradient by its own
running scale. So the optimizer takes its usual step and keeps `scale` of it: exact for
SGD, Adam and RMSprop alike, and the slots (moments) are those of the unscaled optimizer.
"""

from __future__ import annotations

from flower_edge.models.build import backbone_layers


def layer_scales(model, ratio: float) -> dict[str, float]:
    """Variable name -> step scale, for the backbone's trainable variables (others: 1)."""
    if ratio >= 1.0:
        return {}
    layers = backbone_layers(model)
    last = max(len(layers) - 1, 1)
    scales = {}
    for i, layer in enumerate(layers):
        for var in layer.trainable_weights:
            scales[var.name] = ratio ** (1.0 - i / last)
    return scales


def _model_name(variable) -> str:
    """The model variable's name. Under a distribution strategy the step sees each replica's
    copy ("conv1/kernel/replica_1:0"); its container carries the name `layer_scales` used."""
    # Where tf_keras' own Optimizer._var_key finds the container: on the variable, or on
    # a ResourceVariable's handle.
    container = (getattr(variable, "_distributed_container", None)
                 or getattr(getattr(variable, "handle", None), "_distributed_container", None))
    return (container() if container else variable).name


def scaled_optimizer_class(base: type, scales: dict[str, float]) -> type:
    """A subclass of the tf_keras optimizer `base` whose steps are scaled per variable."""
    from flower_edge.tfcompat import tf

    class LayerwiseScaled(base):
        def update_step(self, gradient, variable):
            scale = scales.get(_model_name(variable), 1.0)
            if scale == 1.0:
                return super().update_step(gradient, variable)
            before = tf().identity(variable)
            super().update_step(gradient, variable)
            # Reads after the step: tf.function orders ops on one variable as written.
            variable.assign(before + scale * (variable - before))

    LayerwiseScaled.__name__ = f"Layerwise{base.__name__}"
    return LayerwiseScaled
