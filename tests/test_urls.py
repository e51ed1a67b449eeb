"""pipeline.core.urls: canonical URLs, AMP variants, and a property test over arbitrary text."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.core.errors import InvalidURLError
from pipeline.core.urls import TRACKING_PARAMETERS, amp_variants_removed, canonicalize, is_http_url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("HTTP://Example.COM/Path", "http://example.com/Path"),  # path case is significant
        ("https://example.com", "https://example.com/"),
        ("https://example.com?", "https://example.com/"),
        ("http://example.com:80/a", "http://example.com/a"),
        ("https://example.com:443/a", "https://example.com/a"),
        ("http://example.com:443/a", "http://example.com:443/a"),
        ("https://example.com:8443/a", "https://example.com:8443/a"),
        ("https://user:secret@example.com/a", "https://example.com/a"),
        ("https://example.com/a#section-2", "https://example.com/a"),
        ("https://www.example.com/a", "https://www.example.com/a"),  # www. is another host
        ("https://example.com/a/./b/../c", "https://example.com/a/c"),
        ("https://example.com/a/b/..", "https://example.com/a/"),
        ("https://example.com/../../a", "https://example.com/a"),
        ("https://example.com/%7euser/%2e%2e/x", "https://example.com/x"),
        ("https://example.com/caf%c3%a9", "https://example.com/caf%C3%A9"),
        ("https://example.com/café", "https://example.com/caf%C3%A9"),
        ("https://example.com/a b", "https://example.com/a%20b"),
        ("https://example.com/100%", "https://example.com/100%25"),
        ("https://example.com/a%2Fb", "https://example.com/a%2Fb"),  # reserved: kept escaped
        ("https://bücher.example/", "https://xn--bcher-kva.example/"),
        ("https://faß.de/", "https://xn--fa-hia.de/"),  # UTS 46 non-transitional, as browsers
        ("http://[::FFFF:127.0.0.1]:8080/", "http://[::ffff:7f00:1]:8080/"),
        ("  https://example.com/a\n", "https://example.com/a"),
    ],
)
def test_canonical_form(url: str, expected: str) -> None:
    assert canonicalize(url) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://x.com/a?b=2&a=1", "https://x.com/a?a=1&b=2"),
        ("https://x.com/a?b=2&a=1&a=0", "https://x.com/a?a=1&a=0&b=2"),  # repeats keep order
        ("https://x.com/a?q=&flag&z=1", "https://x.com/a?flag&q=&z=1"),  # blanks kept as given
        ("https://x.com/a?utm_source=rss&utm_medium=feed&id=7", "https://x.com/a?id=7"),
        ("https://x.com/a?UTM_Campaign=x&id=7", "https://x.com/a?id=7"),
        ("https://x.com/a?id=7&fbclid=abc&gclid=def&at_medium=s&CMP=twt", "https://x.com/a?id=7"),
        ("https://x.com/a?WT.mc_id=e&smid=tw-share&ref_src=twsrc", "https://x.com/a"),
        ("https://x.com/a?a=%7e&b=%e2%82%ac", "https://x.com/a?a=~&b=%E2%82%AC"),
        ("https://x.com/a?&&a=1&&", "https://x.com/a?a=1"),
        ("https://x.com/a?ref=home", "https://x.com/a?ref=home"),  # not a documented tracker
    ],
)
def test_query_is_filtered_and_sorted(url: str, expected: str) -> None:
    assert canonicalize(url) == expected


def test_every_documented_tracking_parameter_is_dropped() -> None:
    query = "&".join(f"{name}=1" for name in sorted(TRACKING_PARAMETERS))
    assert canonicalize(f"https://x.com/story?keep=1&{query}") == "https://x.com/story?keep=1"


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/file",
        "javascript:alert(1)",
        "mailto:someone@example.com",
        "data:text/html,hello",
        "file:///etc/passwd",
        "/relative/path",
        "https://",
        "http:///path-only",
        "http://[::1/",
        "http://example.com:99999/",
        "http://example.com:port/",
        "http://exa mple.com/",
        "http://a..b/",
        "",
    ],
)
def test_non_http_or_hostless_urls_are_refused(url: str) -> None:
    with pytest.raises(InvalidURLError):
        canonicalize(url)
    assert is_http_url(url) is False


def test_is_http_url_accepts_http_and_https() -> None:
    assert is_http_url("http://example.com")
    assert is_http_url("HTTPS://example.com/a?b=c")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://example.com/news/story/amp", "https://example.com/news/story"),
        ("https://example.com/news/story/amp/", "https://example.com/news/story"),
        ("https://example.com/news/story?amp=1", "https://example.com/news/story"),
        ("https://example.com/news/story?amp", "https://example.com/news/story"),
        (
            "https://example.com/news/story?outputType=amp&id=2",
            "https://example.com/news/story?id=2",
        ),
        ("https://amp.example.com/news/story", "https://example.com/news/story"),
        ("https://AMP.example.com/news/story/amp?utm_source=x", "https://example.com/news/story"),
        ("https://example.com/news/amplifier", "https://example.com/news/amplifier"),
        ("https://amp.com/news", "https://amp.com/news"),  # the registrable domain stays
        ("https://example.com/amp", "https://example.com/"),
    ],
)
def test_amp_markers_are_removed(url: str, expected: str) -> None:
    assert amp_variants_removed(url) == expected


def test_amp_variants_removed_refuses_what_canonicalize_refuses() -> None:
    with pytest.raises(InvalidURLError):
        amp_variants_removed("javascript:void(0)")


_URL_TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=40)  # no lone surrogates
_URL_LIKE = st.builds(
    lambda scheme, userinfo, host, port, path, query, fragment: (
        f"{scheme}://{userinfo}{host}{port}/{path}?{query}#{fragment}"
    ),
    st.sampled_from(["http", "https", "HTTP", "hTTps", "ftp"]),
    st.sampled_from(["", "user@", "user:pw@"]),
    st.one_of(
        st.sampled_from(["example.com", "WWW.Example.org", "bücher.de", "[::1]", "127.0.0.1"]),
        _URL_TEXT,
    ),
    st.sampled_from(["", ":80", ":443", ":8080", ":0", ":x"]),
    _URL_TEXT,
    st.one_of(
        _URL_TEXT,
        st.lists(
            st.tuples(st.sampled_from(["a", "utm_x", "B", "a%5F", "fbclid", ""]), _URL_TEXT)
        ).map(lambda pairs: "&".join(f"{key}={value}" for key, value in pairs)),
    ),
    _URL_TEXT,
)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(), _URL_LIKE))
def test_canonicalize_is_idempotent_and_raises_only_invalid_url(text: str) -> None:
    try:
        once = canonicalize(text)
    except InvalidURLError:
        assert not is_http_url(text)
        return
    assert canonicalize(once) == once
    assert once.isascii()
    assert once.startswith(("http://", "https://"))
    assert "#" not in once
    assert amp_variants_removed(once) == amp_variants_removed(amp_variants_removed(once))
