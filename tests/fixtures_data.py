"""Session fixtures owned by the data stage's tests."""
