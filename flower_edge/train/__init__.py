"""flower-edge train stage."""
