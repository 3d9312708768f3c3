"""flower-edge cli stage."""
