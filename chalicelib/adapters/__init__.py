"""Real implementations of the ports, one sub-package per outside system."""
