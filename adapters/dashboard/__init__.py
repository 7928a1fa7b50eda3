"""The team's web dashboard: an adapter of the engine, served beside the chat adapters (``server``)."""
