"""``--state FILE``: the register and the stored answers as one JSON file, written atomically after each change,
so a restarted simulator still answers a repeated idempotency key with its first answer."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from sim.carriers.registry import Subscriber

VERSION = 1
AnswerKey = tuple[str, str, str]


def dump(numbers: dict[str, Subscriber], answers: dict[AnswerKey, tuple[str, bytes]]) -> dict[str, Any]:
    return {"version": VERSION, "numbers": [s.to_json() for s in numbers.values()],
            "answers": [{"carrier": c, "sender": s, "key": k, "digest": d, "payload": p.decode("utf-8")}
                        for (c, s, k), (d, p) in answers.items()]}


def restore(data: dict[str, Any]) -> tuple[dict[str, Subscriber], dict[AnswerKey, tuple[str, bytes]]]:
    if data.get("version") != VERSION:
        raise ValueError(f"state file version {data.get('version')!r} is not {VERSION}")
    numbers = {item["number"]: Subscriber.from_json(item) for item in data["numbers"]}
    answers = {(a["carrier"], a["sender"], a["key"]): (a["digest"], a["payload"].encode("utf-8"))
               for a in data["answers"]}
    return numbers, answers


def load(path: Path) -> tuple[dict[str, Subscriber], dict[AnswerKey, tuple[str, bytes]]]:
    return restore(json.loads(path.read_text(encoding="utf-8")))


def save(path: Path, numbers: dict[str, Subscriber], answers: dict[AnswerKey, tuple[str, bytes]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(dump(numbers, answers), ensure_ascii=False, separators=(",", ":"))
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
