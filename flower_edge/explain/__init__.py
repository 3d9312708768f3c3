"""flower-edge explain stage."""
