"""The outbox: what the bot says without being asked, stored with the change that caused it.

Two parts with different users: :mod:`bot.outbox.payloads` (targets and replies as JSON), which the
store and the features write with, and :mod:`bot.outbox.drainer`, which the adapters run to send the
rows. This package re-exports neither, so loading the payloads never loads the drainer.

A row's ``target`` is ``space:<external id>`` (a chat, channel or guild) or ``user:<platform user id>``
(a direct message); its payload is a serialised :class:`bot.replies.Reply`.
"""
