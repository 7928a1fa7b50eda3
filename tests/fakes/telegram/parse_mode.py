"""Telegram's HTML parse mode: Bot API HTML in, plain text plus message entities out, or the API's 400.

Why the fake parses rather than stores the HTML: the length limits apply to the text *after* parsing and a
stray tag fails the whole send on Telegram, so a bot that forgets to escape user text must fail here too.
It is deliberately *stricter* than Telegram: a bare ``>`` or an ``&`` that does not start one of
``&lt; &gt; &amp; &quot;`` or a numeric reference is refused, so bots are held to escaping.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from .protocol import JSON, ApiError

_TAG_ENTITY_TYPES: Final = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "span": "spoiler",
    "tg-spoiler": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_NAMED_REFERENCES: Final = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_SPECIAL_CHAR = re.compile(r"[<>&]")
_CHAR_REFERENCE = re.compile(r"&(?:#([0-9]{1,7})|#[xX]([0-9A-Fa-f]{1,6})|([A-Za-z]+));")
_START_TAG = re.compile(r"<([A-Za-z][A-Za-z0-9-]*)")
_END_TAG = re.compile(r"</([A-Za-z][A-Za-z0-9-]*)\s*>")
_ATTRIBUTE = re.compile(r"""\s+([A-Za-z][A-Za-z0-9-]*)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?""")
_TAG_END = re.compile(r"\s*>")


def utf16_length(text: str) -> int:
    """Entity offsets and lengths are counted in UTF-16 code units by the Bot API."""
    return len(text.encode("utf-16-le")) // 2


def _resolve_reference(match: re.Match[str]) -> str | None:
    """The character a ``&...;`` reference stands for, or None when Telegram does not know it."""
    decimal, hexadecimal, name = match.groups()
    if name is not None:
        return _NAMED_REFERENCES.get(name)
    code_point = int(decimal) if decimal is not None else int(hexadecimal, 16)
    return chr(code_point) if 0 < code_point <= 0x10FFFF else None


def _unescape_attribute(value: str) -> str:
    """Attribute values (``href``) may carry references too; unknown ones stay literal."""
    return _CHAR_REFERENCE.sub(lambda m: _resolve_reference(m) or m.group(), value)


@dataclass
class _OpenTag:
    """A start tag waiting for its end tag; ``offset`` is where its entity starts (UTF-16)."""

    name: str
    offset: int
    attributes: dict[str, str]
    language: str | None = None


class _HtmlParser:
    """Turns Bot API HTML into plain text plus message entities, or raises the API's 400.

    Error descriptions follow Telegram's (``Unsupported start tag "div" at byte offset 0``),
    byte offsets are UTF-8 offsets into the HTML source as in the real server.
    """

    def __init__(self, source: str) -> None:
        self._source = source
        self._pos = 0
        self._out: list[str] = []
        self._utf16 = 0
        self._stack: list[_OpenTag] = []
        self._entities: list[JSON] = []

    def parse(self) -> tuple[str, list[JSON]]:
        """Plain text and entities sorted like Telegram's (by offset, outer entity first)."""
        while self._pos < len(self._source):
            special = _SPECIAL_CHAR.search(self._source, self._pos)
            end = special.start() if special else len(self._source)
            self._emit(self._source[self._pos : end])
            self._pos = end
            if special:
                self._on_special(special.group())
        if self._stack:
            raise self._error(f'Can\'t find end tag corresponding to start tag "{self._stack[-1].name}"')
        entities = sorted(self._entities, key=lambda e: (e["offset"], -e["length"]))
        return "".join(self._out), entities

    def _emit(self, text: str) -> None:
        self._out.append(text)
        self._utf16 += utf16_length(text)

    def _byte_offset(self) -> int:
        return len(self._source[: self._pos].encode())

    @staticmethod
    def _error(detail: str) -> ApiError:
        return ApiError.bad_request(f"can't parse entities: {detail}")

    def _on_special(self, char: str) -> None:
        if char == "&":
            self._on_reference()
        elif char == ">":
            raise self._error(f'Character ">" must be escaped as "&gt;" at byte offset {self._byte_offset()}')
        elif self._source.startswith("</", self._pos):
            self._on_end_tag()
        else:
            self._on_start_tag()

    def _on_reference(self) -> None:
        match = _CHAR_REFERENCE.match(self._source, self._pos)
        if match is None:
            raise self._error(f'Character "&" must be escaped as "&amp;" at byte offset {self._byte_offset()}')
        char = _resolve_reference(match)
        if char is None:
            raise self._error(f'Unsupported HTML entity "{match.group()}" at byte offset {self._byte_offset()}')
        self._emit(char)
        self._pos = match.end()

    def _on_start_tag(self) -> None:
        match = _START_TAG.match(self._source, self._pos)
        if match is None:
            raise self._error(f"Unexpected end of name token at byte offset {self._byte_offset()}")
        name = match.group(1).lower()
        if name not in _TAG_ENTITY_TYPES:
            raise self._error(f'Unsupported start tag "{name}" at byte offset {self._byte_offset()}')
        attributes, end = self._read_attributes(match.end())
        self._check_attributes(name, attributes)
        self._stack.append(_OpenTag(name, self._utf16, attributes))
        self._pos = end

    def _read_attributes(self, pos: int) -> tuple[dict[str, str], int]:
        attributes: dict[str, str] = {}
        while attribute := _ATTRIBUTE.match(self._source, pos):
            value = next((v for v in attribute.groups()[1:] if v is not None), "")
            attributes[attribute.group(1).lower()] = _unescape_attribute(value)
            pos = attribute.end()
        tag_end = _TAG_END.match(self._source, pos)
        if tag_end is None:
            raise self._error(f"Unclosed start tag at byte offset {self._byte_offset()}")
        return attributes, tag_end.end()

    def _check_attributes(self, name: str, attributes: dict[str, str]) -> None:
        if name == "span" and attributes.get("class") != "tg-spoiler":
            raise self._error(f'Tag "span" must have class "tg-spoiler" at byte offset {self._byte_offset()}')
        if name == "tg-emoji" and not attributes.get("emoji-id"):
            raise self._error(f'Tag "tg-emoji" must have attribute "emoji-id" at byte offset {self._byte_offset()}')

    def _on_end_tag(self) -> None:
        match = _END_TAG.match(self._source, self._pos)
        if match is None:
            raise self._error(f"Unclosed end tag at byte offset {self._byte_offset()}")
        name = match.group(1).lower()
        if not self._stack:
            raise self._error(f"Unexpected end tag at byte offset {self._byte_offset()}")
        if self._stack[-1].name != name:
            raise self._error(
                f"Unmatched end tag at byte offset {self._byte_offset()}, "
                f'expected "</{self._stack[-1].name}>", found "</{name}>"'
            )
        self._close(self._stack.pop())
        self._pos = match.end()

    def _close(self, tag: _OpenTag) -> None:
        css_class = tag.attributes.get("class", "")
        inside_pre = bool(self._stack) and self._stack[-1].name == "pre"
        if tag.name == "code" and inside_pre and css_class.startswith("language-"):
            # <pre><code class="language-x">...</code></pre> is one pre entity with a language
            self._stack[-1].language = css_class.removeprefix("language-")
            return
        length = self._utf16 - tag.offset
        if length == 0 or (tag.name == "a" and not tag.attributes.get("href")):
            return  # Telegram drops empty entities and links without a target
        entity: JSON = {"type": _TAG_ENTITY_TYPES[tag.name], "offset": tag.offset, "length": length}
        if tag.name == "a":
            entity["url"] = tag.attributes["href"]
        elif tag.name == "pre" and tag.language:
            entity["language"] = tag.language
        elif tag.name == "blockquote" and "expandable" in tag.attributes:
            entity["type"] = "expandable_blockquote"
        elif tag.name == "tg-emoji":
            entity["custom_emoji_id"] = tag.attributes["emoji-id"]
        self._entities.append(entity)


def parse_html(source: str) -> tuple[str, list[JSON]]:
    """Parse Bot API HTML into ``(plain_text, entities)``; raises ``ApiError`` like Telegram."""
    return _HtmlParser(source).parse()
