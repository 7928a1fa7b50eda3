"""CrowdPulse's platform-neutral engine: micro-tasks, ideas, rounds and points.

This package never imports a chat platform's library; adapters in ``adapters/`` do that.
"""

from bot.engine import Engine
from bot.identity import SpaceRef, UserRef
from bot.replies import Button, Image, Outcome, Reply, Select, TextInput

__all__ = ["Button", "Engine", "Image", "Outcome", "Reply", "Select", "SpaceRef", "TextInput", "UserRef"]
