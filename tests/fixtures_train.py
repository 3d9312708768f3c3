"""Session fixtures owned by the train stage's tests."""
