"""A simulated bank system: every bank of the BIN table behind one HTTP service."""
