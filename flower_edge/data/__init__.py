"""Data sources (oxford102, folder, synthetic), fetch, inspect and input pipelines.

This package imports no TensorFlow at import time; only `pipeline` uses it.
"""
