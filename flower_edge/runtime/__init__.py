"""The Pi runtime: loads a bundle and runs it with no TensorFlow import."""
