"""flower-edge: flower classifiers from training to a Raspberry Pi.

Importing this package never imports TensorFlow: heavy stages import it lazily,
so the Pi runtime (`flower_edge.runtime`) works with only the `pi` extra.
"""

__version__ = "0.1.0"
