"""flower-edge report stage."""
