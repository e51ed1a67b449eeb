"""URL canonicalisation: one spelling per address, so the same article is recognised twice.

``canonicalize`` keeps everything that can change which document a server returns (scheme,
host including ``www.``, port, path, non-tracking query parameters) and drops or normalises
what cannot: letter case of scheme and host, default ports, userinfo, the fragment, dot
segments, percent-encoding spelling, query parameter order and the tracking parameters
listed in ``TRACKING_PARAMETERS`` / ``TRACKING_PREFIXES``.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import quote, unquote, urlsplit

import idna

from pipeline.core.errors import InvalidURLError

# Compared case-insensitively against the percent-decoded parameter name.
TRACKING_PARAMETERS: frozenset[str] = frozenset(
    {
        # ad-click identifiers
        "fbclid",
        "gclid",
        "gclsrc",
        "dclid",
        "gbraid",
        "wbraid",
        "msclkid",
        "yclid",
        "twclid",
        "ttclid",
        "li_fat_id",
        "s_kwcid",
        "ef_id",
        # e-mail and marketing automation (Mailchimp, HubSpot, Marketo, Vero, Omeda)
        "mc_cid",
        "mc_eid",
        "_hsenc",
        "_hsmi",
        "__hssc",
        "__hstc",
        "__hsfp",
        "hsctatracking",
        "mkt_tok",
        "vero_id",
        "oly_anon_id",
        "oly_enc_id",
        "rb_clickid",
        # analytics and social sharing
        "igshid",
        "_ga",
        "_gl",
        "_openstat",
        "__twitter_impression",
        "ref_src",
        "ref_url",
        "spm",
        "fb_action_ids",
        "fb_action_types",
        "fb_ref",
        "fb_source",
        # publishers' campaign codes
        "ocid",
        "cmpid",
        "ncid",
        "icid",
        "s_cid",
        "smid",
        "sr_share",
        "cmp",
        "wt.mc_id",
    }
)
TRACKING_PREFIXES: tuple[str, ...] = ("utm_", "at_")

_DEFAULT_PORTS = {"http": 80, "https": 443}
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
# A percent escape, or one character that must be escaped in a path or query (a stray "%"
# included): everything except unreserved, sub-delims, ":", "@", "/" and "?".
_ESCAPE_OR_UNSAFE = re.compile(r"%([0-9A-Fa-f]{2})|[^A-Za-z0-9\-._~!$&'()*+,;=:@/?]")
_HOST_LABEL = re.compile(r"[a-z0-9_-]{1,63}")
_AMP_QUERY = frozenset({"amp", "amp=1", "outputtype=amp"})


def canonicalize(url: str) -> str:
    """The canonical spelling of an http(s) URL; raises InvalidURLError for anything else."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as error:  # bad IPv6 literal, bad port, NFKC-unsafe netloc
        raise InvalidURLError(f"not a valid URL: {error}", url=url) from error
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise InvalidURLError(f"not an http(s) URL: {url!r}", url=url)
    host = _canonical_host(parts.hostname or "", url)
    netloc = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    path = _remove_dot_segments(_normalise_percent_encoding(parts.path)) or "/"
    query = _canonical_query(parts.query)
    return f"{scheme}://{netloc}{path}" + (f"?{query}" if query else "")


def canonicalize_or_none(url: str | None) -> str | None:
    """The canonical URL, or None for no URL or one that cannot be canonicalised."""
    if not url:
        return None
    try:
        return canonicalize(url)
    except InvalidURLError:
        return None


def feed_address_key(url: str | None) -> str | None:
    """What makes two feed addresses one feed: the canonical URL without its scheme and
    without a leading ``www.`` (http/https and www variants are served alike)."""
    canonical = canonicalize_or_none(url)
    if canonical is None:
        return None
    return canonical.split("://", 1)[1].removeprefix("www.")


def is_http_url(url: str) -> bool:
    """True when ``url`` is an http(s) URL with a usable host."""
    try:
        canonicalize(url)
    except InvalidURLError:
        return False
    return True


def amp_variants_removed(url: str) -> str:
    """The canonical URL with AMP markers removed, so an AMP page and its original match.

    Removes an ``amp.`` host prefix, a trailing ``/amp`` path segment and the ``amp``,
    ``amp=1`` and ``outputType=amp`` query parameters.
    """
    parts = urlsplit(canonicalize(url))
    netloc = parts.netloc.removeprefix("amp.") if parts.netloc.count(".") > 1 else parts.netloc
    path = re.sub(r"/amp/?$", "", parts.path) or "/"
    pairs = [pair for pair in parts.query.split("&") if pair and pair.lower() not in _AMP_QUERY]
    query = "&".join(pairs)
    return f"{parts.scheme}://{netloc}{path}" + (f"?{query}" if query else "")


def _canonical_host(hostname: str, url: str) -> str:
    if not hostname:
        raise InvalidURLError(f"URL has no host: {url!r}", url=url)
    if ":" in hostname:
        return _canonical_ipv6(hostname, url)
    host = hostname if hostname.isascii() else _idna_encode(hostname, url)
    labels = host.lower().removesuffix(".").split(".")
    if not all(_HOST_LABEL.fullmatch(label) for label in labels):
        raise InvalidURLError(f"not a valid host name: {hostname!r}", url=url)
    return host.lower()


def _canonical_ipv6(hostname: str, url: str) -> str:
    try:
        address = ipaddress.IPv6Address(hostname)
    except ValueError as error:
        raise InvalidURLError(f"not a valid IPv6 address: {hostname!r}", url=url) from error
    return f"[{address.compressed}]"


def _idna_encode(hostname: str, url: str) -> str:
    # UTS #46 non-transitional processing is what browsers do ("faß.de" stays distinct
    # from "fass.de"); Python's own IDNA 2003 codec is the fallback for hosts it refuses.
    try:
        return idna.encode(hostname, uts46=True, transitional=False).decode("ascii")
    except idna.IDNAError:
        pass
    try:
        return hostname.encode("idna").decode("ascii")
    except UnicodeError as error:
        raise InvalidURLError(f"host cannot be IDNA-encoded: {hostname!r}", url=url) from error


def _normalise_percent_encoding(text: str) -> str:
    """Upper-case hex escapes, decode unreserved characters, escape what must be escaped."""

    def fix(match: re.Match[str]) -> str:
        hex_digits = match.group(1)
        if hex_digits is None:
            return quote(match.group(0), safe="", errors="surrogatepass")
        character = chr(int(hex_digits, 16))
        return character if character in _UNRESERVED else f"%{hex_digits.upper()}"

    return _ESCAPE_OR_UNSAFE.sub(fix, text)


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 section 5.2.4, on a path that starts with "/" (or is empty)."""
    output: list[str] = []
    segments = path.split("/")[1:]
    for index, segment in enumerate(segments):
        is_last = index == len(segments) - 1
        if segment == "..":
            if output:
                output.pop()
            if is_last:
                output.append("")
        elif segment == ".":
            if is_last:
                output.append("")
        else:
            output.append(segment)
    return "/" + "/".join(output) if segments else ""


def _canonical_query(query: str) -> str:
    pairs = [_normalise_percent_encoding(pair) for pair in query.split("&") if pair]
    kept = [pair for pair in pairs if not _is_tracking(_parameter_name(pair))]
    return "&".join(sorted(kept, key=_parameter_name))  # sorted() is stable: repeats keep order


def _parameter_name(pair: str) -> str:
    return pair.partition("=")[0]


def _is_tracking(name: str) -> bool:
    lowered = unquote(name).lower()
    return lowered in TRACKING_PARAMETERS or lowered.startswith(TRACKING_PREFIXES)


def host_of(url: str) -> str:
    """The host name politeness is keyed by (lower case, no port)."""
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""
