"""The tracing loop inside a server process: built once, on the first bank answer, as the automatic account."""

from __future__ import annotations

import threading
from datetime import datetime

from fastapi import FastAPI
from sqlalchemy.orm import Session

from fanzha.auth import service as auth_service
from fanzha.banking import messages as m
from fanzha.banking.dispatcher import AnswerHook
from fanzha.banking.first_move import center_signer, policy_for
from fanzha.banking.models import BankInstruction
from fanzha.banking.runtime import ensure_auto_account
from fanzha.config import Settings
from fanzha.tracing.loop import TraceConfig, TraceLoop

_lock = threading.Lock()


def build_loop(session: Session, settings: Settings) -> TraceLoop:
    """In the caller's transaction: on SQLite a second one would wait for the write lock the caller holds."""
    actor = auth_service.actor_for(ensure_auto_account(session))
    return TraceLoop(actor=actor, signer=center_signer(settings), policy=policy_for(settings),
                     config=TraceConfig.from_settings(settings))


def answer_hook(app: FastAPI) -> AnswerHook | None:
    """The dispatcher's hook that runs the loop on every answer (None when the loop is switched off)."""
    settings: Settings = app.state.settings
    if not settings.trace_loop:
        return None

    def hook(session: Session, instruction: BankInstruction, answer: m.Envelope, number: str, now: datetime) -> None:
        trace_loop_for(app, session).on_answer(session, instruction, answer, number, now)

    return hook


def trace_loop_for(app: FastAPI, session: Session) -> TraceLoop:
    if not hasattr(app.state, "trace_loop"):
        with _lock:
            if not hasattr(app.state, "trace_loop"):
                app.state.trace_loop = build_loop(session, app.state.settings)
    loop: TraceLoop = app.state.trace_loop
    return loop
