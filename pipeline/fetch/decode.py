"""Reading a response body within ``fetch.max_bytes``, undoing gzip/deflate/br on the way.

Decoding goes a bounded piece at a time and stops as soon as the body passes the limit, so a
compression bomb never grows past it in memory.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from typing import Protocol

import brotli  # type: ignore[import-untyped]  # the C binding ships no type hints
import httpx

from pipeline.core.errors import BodyTooLargeError

ACCEPT_ENCODING = "gzip, deflate, br"
# What a broken compressed body raises while it is decoded.
DECODE_ERRORS: tuple[type[Exception], ...] = (zlib.error, brotli.error)
_PIECE = 64 * 1024  # most decoded bytes produced from one step of the decompressor


class _Decoder(Protocol):
    def decode(self, data: bytes) -> Iterator[bytes]: ...

    def flush(self) -> Iterator[bytes]: ...


class _IdentityDecoder:
    def decode(self, data: bytes) -> Iterator[bytes]:
        yield data

    def flush(self) -> Iterator[bytes]:
        yield from ()


class _ZlibDecoder:
    """gzip or deflate, at most ``_PIECE`` bytes out per step (zlib's ``max_length``)."""

    def __init__(self, wbits: int, *, raw_deflate_fallback: bool = False) -> None:
        self._inflater = zlib.decompressobj(wbits)
        # 'deflate' should be zlib-wrapped, but many servers send raw deflate: try both once.
        self._raw_deflate_fallback = raw_deflate_fallback

    def decode(self, data: bytes) -> Iterator[bytes]:
        piece = self._first_piece(data)
        while piece:
            yield piece
            tail = self._inflater.unconsumed_tail
            piece = self._inflater.decompress(tail, _PIECE) if tail else b""

    def flush(self) -> Iterator[bytes]:
        rest = self._inflater.flush()  # small: unconsumed input was drained in decode
        if rest:
            yield rest

    def _first_piece(self, data: bytes) -> bytes:
        try:
            return self._inflater.decompress(data, _PIECE)
        except zlib.error:
            if not self._raw_deflate_fallback:
                raise
            self._inflater = zlib.decompressobj(-zlib.MAX_WBITS)
            return self._inflater.decompress(data, _PIECE)
        finally:
            self._raw_deflate_fallback = False


class _BrotliDecoder:
    """br, at most about ``_PIECE`` bytes out per step (brotli's ``output_buffer_limit``)."""

    def __init__(self) -> None:
        self._decompressor = brotli.Decompressor()

    def decode(self, data: bytes) -> Iterator[bytes]:
        piece: bytes = self._decompressor.process(data, output_buffer_limit=_PIECE)
        while piece:
            yield piece
            piece = self._decompressor.process(b"", output_buffer_limit=_PIECE)

    def flush(self) -> Iterator[bytes]:
        yield from ()


def _decoder_named(name: str) -> _Decoder:
    if name in ("gzip", "x-gzip"):
        return _ZlibDecoder(zlib.MAX_WBITS | 16)
    if name == "deflate":
        return _ZlibDecoder(zlib.MAX_WBITS, raw_deflate_fallback=True)
    if name == "br":
        return _BrotliDecoder()
    return _IdentityDecoder()  # 'identity', or a bogus value such as 'utf-8': as httpx does


class BodyDecoder:
    """Undoes every Content-Encoding listed, the last one applied first."""

    def __init__(self, content_encoding: str) -> None:
        names = [name.strip().lower() for name in content_encoding.split(",") if name.strip()]
        self._stages = [_decoder_named(name) for name in reversed(names)]

    def decode(self, data: bytes) -> Iterator[bytes]:
        return self._through(0, data)

    def flush(self) -> Iterator[bytes]:
        for index, stage in enumerate(self._stages):
            for piece in stage.flush():
                yield from self._through(index + 1, piece)

    def _through(self, index: int, data: bytes) -> Iterator[bytes]:
        if index == len(self._stages):
            yield data
            return
        for piece in self._stages[index].decode(data):
            yield from self._through(index + 1, piece)


async def read_body(response: httpx.Response, limit: int) -> bytes:
    """The decoded body of a streamed response; BodyTooLargeError once it passes ``limit``."""
    declared = _content_length(response)
    if declared is not None and declared > limit:
        raise BodyTooLargeError(
            f"{response.url}: Content-Length {declared} exceeds fetch.max_bytes ({limit})"
        )
    if response.is_stream_consumed:  # an in-memory response (httpx.MockTransport), decoded
        _check_size(len(response.content), limit, response.url)
        return response.content
    decoder = BodyDecoder(response.headers.get("content-encoding", ""))
    body = bytearray()
    received = 0
    async for raw in response.aiter_raw():
        # Raw bytes count too: trailing garbage after a gzip member decodes to nothing.
        received += len(raw)
        _check_size(received, limit, response.url)
        for piece in decoder.decode(raw):
            body += piece
            _check_size(len(body), limit, response.url)
    for piece in decoder.flush():
        body += piece
        _check_size(len(body), limit, response.url)
    return bytes(body)


def _content_length(response: httpx.Response) -> int | None:
    value = response.headers.get("content-length", "").strip()
    return int(value) if value.isdigit() else None


def _check_size(size: int, limit: int, url: httpx.URL) -> None:
    if size > limit:
        raise BodyTooLargeError(f"{url}: body is larger than fetch.max_bytes ({limit})")
