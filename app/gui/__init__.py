"""The PyQt6 desktop app (and its headless runner): the only Qt code in the project."""
