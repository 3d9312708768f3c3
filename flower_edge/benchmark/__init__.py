"""flower-edge benchmark stage."""
