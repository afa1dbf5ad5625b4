"""The bank channel inside a server process: the first-move rule and the background dispatcher."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from fanzha.auth import service as auth_service
from fanzha.auth.models import Role, User
from fanzha.banking import alarms
from fanzha.banking.adapter import HttpBankAdapter
from fanzha.banking.dispatcher import AnswerHook, Dispatcher
from fanzha.banking.first_move import (
    AUTO_USERNAME,
    FirstMove,
    banks_keyring,
    build_first_move,
    center_signer,
    rules_for,
)
from fanzha.banking.instructions import expire_due
from fanzha.banking.keys import SigningKey
from fanzha.banking.lifecycle import HoldRules
from fanzha.channel.delivery import Delivery
from fanzha.config import Settings
from fanzha.storage.db import Database, mark_background

if TYPE_CHECKING:  # only for hints: `fanzha db upgrade` reaches this module and need not load the web stack
    from fastapi import FastAPI

_lock = threading.Lock()
log = logging.getLogger(__name__)


def ensure_auto_account(session: Session) -> User:
    """The account the center's automatic rules act as (created by `fanzha db upgrade`)."""
    return auth_service.ensure_service_account(session, username=AUTO_USERNAME, display_name="中心自动止付规则",
                                               role=Role.DUTY_OFFICER, org_code="center")


def first_move_for(app: FastAPI) -> FirstMove | None:
    """Built on first use (it needs a migrated database and the keys directory), then kept."""
    if not hasattr(app.state, "first_move"):
        with _lock:
            if not hasattr(app.state, "first_move"):
                settings: Settings = app.state.settings
                db: Database = app.state.db
                with db.transaction() as session:
                    actor = auth_service.actor_for(ensure_auto_account(session))
                app.state.first_move = build_first_move(settings, actor)
    first_move: FirstMove | None = app.state.first_move
    return first_move


def signer_for(app: FastAPI) -> SigningKey:
    """The center's signing key for instructions an officer sends by hand."""
    if not hasattr(app.state, "center_signer"):
        with _lock:
            if not hasattr(app.state, "center_signer"):
                app.state.center_signer = center_signer(app.state.settings)
    signer: SigningKey = app.state.center_signer
    return signer


class BankDelivery(Delivery[Dispatcher, HttpBankAdapter]):
    """A dispatcher thread delivering the outbox to the bank gateway until the server stops."""

    @classmethod
    def start(cls, db: Database, settings: Settings, on_answer: AnswerHook | None = None) -> BankDelivery:
        adapter = HttpBankAdapter(settings.bank_gateway_url, banks_keyring(settings), timeout_s=settings.bank_timeout_s)
        dispatcher = Dispatcher(db, adapter, on_answer=on_answer, rules=rules_for(settings))
        stop_event, thread = cls.launch(_deliver_and_sweep, db, dispatcher, rules_for(settings),
                                        name="bank-dispatcher")
        return cls(dispatcher, adapter, stop_event, thread)


def _deliver_and_sweep(db: Database, dispatcher: Dispatcher, rules: HoldRules, stop: threading.Event,
                       sweep_every_s: float = 5.0) -> None:
    """Deliver the outbox continuously; every few seconds also raise expiry alarms and end holds whose term ran
    out."""
    sweeper_stop = threading.Event()

    def sweep() -> None:
        mark_background()
        while not sweeper_stop.wait(sweep_every_s):
            try:
                with db.transaction() as session:
                    now = datetime.now(UTC)
                    alarms.raise_due(session, now, rules)
                    expire_due(session, now)
            except Exception:  # keep sweeping after a transient database error
                log.exception("expiry sweep failed; retrying")

    sweeper = threading.Thread(target=sweep, name="hold-expiry", daemon=True)
    sweeper.start()
    try:
        dispatcher.run_forever(stop)
    finally:
        sweeper_stop.set()
        sweeper.join(timeout=10)
