"""Fakes of external services (Telegram Bot API, ...) for end-to-end tests of the bot."""
