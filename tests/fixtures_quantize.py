"""Session fixtures owned by the quantize stage's tests."""
