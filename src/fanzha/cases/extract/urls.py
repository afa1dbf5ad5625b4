"""Web addresses: http(s) links and bare domains such as www.example.com or example.cn/abc."""

from __future__ import annotations

import re

from fanzha.cases.extract.model import Url
from fanzha.cases.extract.spans import Claims

# ASCII only: Chinese text usually runs straight on after a link ("点击http://a.cn/x下载").
_URL_CHARS = r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]"
# Common generic and fraud-favoured TLDs; a bare "name.tld" is only a URL with one of these.
_TLDS = (
    "com|cn|net|org|gov|edu|info|biz|top|xyz|vip|cc|me|io|app|co|tk|shop|site|online|club|work|ltd|"
    "fun|live|pro|store|tech|wang|ink|link|cloud|icu|asia|hk|tw|mo|ph|kh|mm|la|vn|th|my|sg|jp|kr|us|uk|ru"
)
_SCHEME_RE = re.compile(rf"(?i)(?<![A-Za-z0-9])https?://{_URL_CHARS}+")
_BARE_RE = re.compile(
    rf"(?i)(?<![A-Za-z0-9@._\-])(?:[a-z0-9](?:[a-z0-9\-]{{0,61}}[a-z0-9])?\.)+(?:{_TLDS})"
    rf"(?![A-Za-z0-9\-])(?::\d{{2,5}})?(?:/{_URL_CHARS}*)?"
)
_EMAIL_RE = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")
_TRAILING = ".,;:!?'"


def _trim(text: str, start: int, end: int) -> int:
    """Drop sentence punctuation and an unbalanced closing bracket from the end of a match."""
    while end > start:
        ch = text[end - 1]
        if ch in _TRAILING or (ch == ")" and text.count("(", start, end) < text.count(")", start, end)):
            end -= 1
        else:
            break
    return end


def extract_urls(text: str, claims: Claims) -> list[Url]:
    # E-mail addresses are claimed, not reported: "abc@163.com" must not yield the URL "163.com".
    for m in _EMAIL_RE.finditer(text):
        claims.add(m.start(), m.end())
    found: list[Url] = []
    seen: set[str] = set()
    for regex, scheme in ((_SCHEME_RE, ""), (_BARE_RE, "http://")):
        for m in regex.finditer(text):
            start = m.start()
            end = _trim(text, start, m.end())
            if claims.overlaps(start, end):
                continue
            raw = text[start:end]
            if scheme and raw.replace(".", "").isdigit():
                continue
            claims.add(start, end)
            value = scheme + raw
            if value.lower() in seen:
                continue
            seen.add(value.lower())
            found.append(Url(value=value, text=raw, span=(start, end)))
    found.sort(key=lambda u: u.span)
    return found
