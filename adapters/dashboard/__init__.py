"""The team's web dashboard: an adapter of the engine, served beside the chat adapters."""

from adapters.dashboard.server import build_app, serve

__all__ = ["build_app", "serve"]
