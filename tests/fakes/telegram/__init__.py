"""A fake Telegram Bot API server that an unmodified python-telegram-bot ``Application`` can talk to.

Why a fake server rather than mocks: the bot's real HTTP stack (PTB's request encoding, error
mapping, polling loop, retries) is exercised end to end, and the server enforces the limits that
the real Bot API enforces (text and caption lengths, HTML parsing, callback_data size, flood
control, ...), so a test fails here for the same reasons the bot would fail in production.

The server speaks the real protocol: ``/bot<token>/<method>`` with parameters as a JSON body,
an url-encoded form, a multipart form (uploads) or a query string, and replies with
``{"ok": true, "result": ...}`` or ``{"ok": false, "error_code": N, "description": ...}``.

Tests play the users through the async driver API (``user``, ``send_text``, ``click``, ...) and
inspect what the bot did through ``calls``, ``messages``, ``photos``, ``errors``, ....

Where things are: ``server`` (``FakeTelegramServer``: HTTP, lifecycle, driver), ``world`` (users, chats,
messages, files), ``updates`` and ``polling`` (the update queue, getUpdates, webhooks), one module per area
of Bot API methods (``messages``, ``media``, ``polls``, ``callbacks``, ``commands``, ``chats``) over the shared
``sending`` tail, ``limits`` (every enforced figure and flood control), ``content`` and ``parse_mode`` (text,
entities, keyboards), ``params`` (request decoding), ``protocol`` and ``records`` (the shared vocabulary).

Deliberate differences from the real Bot API (all of them documented where they happen):

* HTML is parsed *stricter* than Telegram: a bare ``>`` or an ``&`` that does not start one of
  ``&lt; &gt; &amp; &quot;`` or a numeric reference is refused, so bots are held to escaping.
* ``retry_after`` is an integer number of wall-clock seconds (as in the real API) rounded *up*
  and at least 1, even when ``time_scale`` shortens the flood windows: obeying it always works,
  the exact wait is in ``flood_errors``.
* Only ``parse_mode=HTML`` is implemented; other parse modes are refused with a 400.
* Queued updates are not pushed to a webhook automatically: tests call ``push_webhook``.
"""
