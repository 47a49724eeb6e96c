"""Backends that feed the floor: one module each, plus the simulator."""
