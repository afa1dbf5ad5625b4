"""Console language: two JSON catalogues (zh, en) and the reader's choice from the ``lang`` cookie."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from fastapi import Request

from fanzha.banking.bins import bank_names
from fanzha.cases.fraud_types import FraudType
from fanzha.config import Settings

LANG_COOKIE = "lang"
LANGUAGES: tuple[str, ...] = ("zh", "en")
HTML_LANG = {"zh": "zh-CN", "en": "en"}


@lru_cache(maxsize=len(LANGUAGES))
def catalogue(lang: str) -> dict[str, str]:
    """Key -> message for one language; loaded once."""
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}")
    raw = resources.files("fanzha.web").joinpath("i18n", f"{lang}.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(raw)
    return {str(k): str(v) for k, v in data.items()}


@dataclass(frozen=True, slots=True)
class Translator:
    lang: str

    def __call__(self, key: str, **params: object) -> str:
        """The message for ``key``; ``{name}`` placeholders are filled from ``params``.

        An unknown key shows as itself, so a missing string is visible on the page instead of an error
        in the middle of a night shift (a test keeps the catalogues complete).
        """
        message = catalogue(self.lang).get(key, key)
        return message.format(**params) if params else message

    def maybe(self, key: str, default: str) -> str:
        """The message for ``key`` if the catalogue has one, else ``default`` (e.g. a service's own words)."""
        return catalogue(self.lang).get(key, default)

    def bank(self, code: str) -> str:
        """A bank by its code: the Chinese name in Chinese, the code (ABC, ICBC) in English."""
        if self.lang == "zh":
            return bank_names().get(code, code)
        return code

    @property
    def html_lang(self) -> str:
        return HTML_LANG[self.lang]

    def fraud_type(self, code: str) -> str:
        try:
            ft = FraudType(code)
        except ValueError:
            return code
        return ft.zh if self.lang == "zh" else ft.en


def language_of(request: Request, settings: Settings) -> str:
    chosen = request.cookies.get(LANG_COOKIE, "")
    return chosen if chosen in LANGUAGES else settings.default_language
