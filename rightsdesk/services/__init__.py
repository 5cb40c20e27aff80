"""Use-cases: the only code that writes. Each takes ``now=`` and commits once."""
