"""The narrative corpus (tests/cases/narratives/corpus.json) against the extractor, field by field.

Expectations were written by hand from each text (see narratives/README.md); a failure here is a
discrepancy between what an officer would write down and what the extractor found.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from datetime import datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from fanzha.cases.extract import Extraction, extract
from fanzha.cases.fraud_types import FraudType

CORPUS_PATH = Path(__file__).parent / "narratives" / "corpus.json"
MIN_OVERALL_ACCURACY = 0.90
MIN_TYPE_ACCURACY = 0.60
MIN_PER_TYPE = 5


def _load() -> list[dict[str, Any]]:
    with CORPUS_PATH.open(encoding="utf-8") as f:
        entries: list[dict[str, Any]] = json.load(f)
    return entries


CORPUS = _load()
BY_ID = {entry["id"]: entry for entry in CORPUS}


@cache
def _extraction(case_id: str) -> Extraction:
    entry = BY_ID[case_id]
    return extract(entry["text"], datetime.fromisoformat(entry["received_at"]))


def _url_key(url: str) -> str:
    url = url.strip().lower().rstrip("/")
    return url if "://" in url else "http://" + url


def test_corpus_shape() -> None:
    assert len(BY_ID) == len(CORPUS), "duplicate ids"
    counts = Counter(FraudType.parse(e["expected"]["fraud_type"]) for e in CORPUS)
    assert set(counts) == set(FraudType)
    assert min(counts.values()) >= MIN_PER_TYPE, counts
    assert len(CORPUS) >= 70
    for entry in CORPUS:
        assert entry["channel"] in {"110", "12345", "station", "web", "app"}, entry["id"]
        assert datetime.fromisoformat(entry["received_at"]).utcoffset() is not None, entry["id"]


ids = [entry["id"] for entry in CORPUS]


@pytest.mark.parametrize("case_id", ids)
def test_amounts(case_id: str) -> None:
    expected = {(Decimal(v), c) for v, c in BY_ID[case_id]["expected"]["amounts"]}
    found = {(a.value, a.currency) for a in _extraction(case_id).amounts}
    assert found == expected, f"missing {expected - found}, unexpected {found - expected}"


@pytest.mark.parametrize("case_id", ids)
def test_accounts(case_id: str) -> None:
    expected = {(number, bank) for number, bank in BY_ID[case_id]["expected"]["accounts"]}
    found = {(a.number, a.bank_code) for a in _extraction(case_id).accounts}
    assert found == expected, f"missing {expected - found}, unexpected {found - expected}"


@pytest.mark.parametrize("case_id", ids)
def test_phones(case_id: str) -> None:
    # Service short numbers (110, 96110, 95588) have no E.164 form and are not case phones.
    expected = set(BY_ID[case_id]["expected"]["phones"])
    found = {p.e164 for p in _extraction(case_id).phones if p.e164 is not None}
    assert found == expected, f"missing {expected - found}, unexpected {found - expected}"


@pytest.mark.parametrize("case_id", [i for i in ids if BY_ID[i]["expected"].get("times")])
def test_times(case_id: str) -> None:
    expected = set(BY_ID[case_id]["expected"]["times"])
    found = {t.value for t in _extraction(case_id).times}
    assert expected <= found, f"missing {expected - found}; found {sorted(found)}"


@pytest.mark.parametrize("case_id", [i for i in ids if BY_ID[i]["expected"].get("banks")])
def test_banks(case_id: str) -> None:
    expected = set(BY_ID[case_id]["expected"]["banks"])
    found = {b.code for b in _extraction(case_id).banks}
    assert expected <= found, f"missing {expected - found}; found {sorted(found)}"


@pytest.mark.parametrize("case_id", ids)
def test_urls(case_id: str) -> None:
    expected = {_url_key(u) for u in BY_ID[case_id]["expected"].get("urls", [])}
    found = {_url_key(u.value) for u in _extraction(case_id).urls}
    assert found == expected, f"missing {expected - found}, unexpected {found - expected}"


@pytest.mark.parametrize("case_id", ids)
def test_fraud_type(case_id: str) -> None:
    result = _extraction(case_id).fraud_type
    assert result is not None
    assert result.type.zh == BY_ID[case_id]["expected"]["fraud_type"], result.to_dict()


def test_fraud_type_accuracy() -> None:
    """Accuracy over the corpus: at least 90% overall and 60% for every type."""
    confusion: dict[FraudType, Counter[FraudType]] = defaultdict(Counter)
    for entry in CORPUS:
        result = _extraction(entry["id"]).fraud_type
        assert result is not None
        confusion[FraudType.parse(entry["expected"]["fraud_type"])][result.type] += 1
    correct = sum(row[t] for t, row in confusion.items())
    overall = correct / len(CORPUS)
    per_type = {t: row[t] / sum(row.values()) for t, row in confusion.items()}
    summary = "\n".join(
        f"{t.zh}: {row[t]}/{sum(row.values())}"
        + "".join(f"  ->{got.zh}×{n}" for got, n in row.most_common() if got != t)
        for t, row in confusion.items()
    )
    assert overall >= MIN_OVERALL_ACCURACY, f"overall {overall:.1%}\n{summary}"
    weak = {t.zh: f"{acc:.0%}" for t, acc in per_type.items() if acc < MIN_TYPE_ACCURACY}
    assert not weak, f"types below {MIN_TYPE_ACCURACY:.0%}: {weak}\n{summary}"
