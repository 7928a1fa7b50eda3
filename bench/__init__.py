"""CrowdPulse's benchmark suite: ``python -m bench`` (``--quick`` for a one-minute smoke run)."""
