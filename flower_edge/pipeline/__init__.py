"""flower-edge pipeline stage."""
