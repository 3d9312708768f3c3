"""flower-edge quantize stage."""
