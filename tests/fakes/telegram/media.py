"""Photos and documents: uploads, URLs and file ids in, ``getFile`` paths out.

Why a module: files are the one part of the API with its own input forms (a multipart upload, an
``attach://`` part, a known ``file_id`` or an URL) and its own storage, which the test reads back byte for
byte through ``tg.photos`` / ``tg.documents`` and PTB downloads through ``getFile``.
"""

from __future__ import annotations

from .content import caption_text, inline_keyboard, set_text
from .messages import MessageMethods
from .params import Handler, Params, Upload
from .protocol import JSON, ApiError
from .records import StoredFile
from .sending import Sender
from .world import World


def _image_size(data: bytes) -> tuple[int, int]:
    """Telegram re-encodes photos and refuses what is not an image; PNG sizes are read, others 0."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24:
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if data.startswith((b"\xff\xd8\xff", b"GIF87a", b"GIF89a")) or data[8:12] == b"WEBP":
        return 0, 0
    raise ApiError.bad_request("IMAGE_PROCESS_FAILED")


class MediaMethods:
    """sendPhoto, sendDocument, editMessageMedia (photos) and getFile."""

    def __init__(self, world: World, sender: Sender, messages: MessageMethods) -> None:
        self._world = world
        self._sender = sender
        self._messages = messages

    def handlers(self) -> dict[str, Handler]:
        return {
            "sendPhoto": self._send_photo,
            "sendDocument": self._send_document,
            "editMessageMedia": self._edit_message_media,
            "getFile": self._get_file,
        }

    async def _send_photo(self, params: Params) -> JSON:
        chat = self._world.writable_chat(params)
        caption = caption_text(params)
        stored, sizes = self._photo(params)
        message = self._sender.deliver("sendPhoto", params, chat, {"photo": sizes}, caption, "caption")
        self._world.files[stored.file_id] = stored
        return message

    async def _edit_message_media(self, params: Params) -> JSON:
        """A photo message's photo replaced, or a text message given one (the Bot API adds media to text
        messages): the caption and keyboard come with the new photo. Only photos are modelled."""
        media = params.get("media")
        if not isinstance(media, dict) or media.get("type") != "photo":
            raise ApiError.bad_request("the fake server edits media into photos only")
        message = self._messages.editable(params)
        if not {"text", "photo"} & message.keys():
            raise ApiError.bad_request("message media can't be edited")
        # The media object's own fields (its caption, parse_mode, file) read as a sendPhoto's would.
        photo = Params({**params.values, **media, "photo": media.get("media")})
        caption = caption_text(photo)
        stored, sizes = self._photo(photo)

        def change(edited: JSON) -> None:
            set_text(edited, None, "text")
            edited["photo"] = sizes
            set_text(edited, caption, "caption")

        edited = self._messages.apply_edit(message, inline_keyboard(params.get("reply_markup")), change)
        self._world.files[stored.file_id] = stored
        return edited

    def _photo(self, params: Params) -> tuple[StoredFile, list[JSON]]:
        """The photo of ``params`` (an upload, a file id, an URL) and its sizes as Telegram describes them."""
        stored = self._input_file(params, "photo")
        width, height = _image_size(stored.data) if stored.data is not None else (0, 0)
        size = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "width": width,
            "height": height,
        }
        if stored.data is not None:
            size["file_size"] = len(stored.data)
        return stored, [size]

    async def _send_document(self, params: Params) -> JSON:
        chat = self._world.writable_chat(params)
        caption = caption_text(params)
        stored = self._input_file(params, "document")
        document: JSON = {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id}
        optional: JSON = {
            "file_name": stored.filename,
            "mime_type": stored.mime_type,
            "file_size": len(stored.data) if stored.data is not None else None,
        }
        document |= {key: value for key, value in optional.items() if value is not None}
        message = self._sender.deliver("sendDocument", params, chat, {"document": document}, caption, "caption")
        self._world.files[stored.file_id] = stored
        return message

    def _input_file(self, params: Params, kind: str) -> StoredFile:
        """Resolve a photo/document parameter: an upload, ``attach://`` part, known file_id or URL."""
        files = self._world.files
        value = params.get(kind)
        if isinstance(value, str) and value.startswith("attach://"):
            value = params.get(value.removeprefix("attach://"))
        if isinstance(value, str) and value in files:
            return files[value]
        number = len(files) + 1
        if isinstance(value, Upload):
            suffix = "." + value.filename.rsplit(".", 1)[-1] if value.filename and "." in value.filename else ""
            return StoredFile(
                f"fake-{kind}-{number}",
                f"uniq-{number}",
                f"{kind}s/file_{number}{suffix}",
                value.filename,
                value.content_type,
                value.data,
            )
        if isinstance(value, str) and value.startswith(("http://", "https://")):
            return StoredFile(f"fake-{kind}-{number}", f"uniq-{number}", f"{kind}s/file_{number}", None, None, None)
        if value is None:
            raise ApiError.bad_request(f"there is no {kind} in the request")
        raise ApiError.bad_request("wrong file identifier/HTTP URL specified")

    async def _get_file(self, params: Params) -> JSON:
        stored = self._world.files.get(params.opt_str("file_id") or "")
        if stored is None:
            raise ApiError.bad_request("wrong file_id or the file is temporarily unavailable")
        result: JSON = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_path": stored.file_path,
        }
        if stored.data is not None:
            result["file_size"] = len(stored.data)
        return result
