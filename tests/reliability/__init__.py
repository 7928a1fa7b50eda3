"""Reliability suites: fuzzing the engine, crashing it under load, and platform faults end to end."""
