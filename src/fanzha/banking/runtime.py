"""The bank channel inside a server process: the first-move rule and the background dispatcher."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from fastapi import FastAPI
from sqlalchemy.orm import Session

from fanzha.auth import service as auth_service
from fanzha.auth.models import Role, User
from fanzha.banking.adapter import HttpBankAdapter
from fanzha.banking.dispatcher import Dispatcher
from fanzha.banking.first_move import AUTO_USERNAME, FirstMove, banks_keyring, build_first_move
from fanzha.config import Settings
from fanzha.storage.db import Database

_lock = threading.Lock()


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


@dataclass
class BankDelivery:
    """A dispatcher thread delivering the outbox to the bank gateway until the server stops."""

    dispatcher: Dispatcher
    adapter: HttpBankAdapter
    stop_event: threading.Event
    thread: threading.Thread

    @classmethod
    def start(cls, db: Database, settings: Settings) -> BankDelivery:
        adapter = HttpBankAdapter(settings.bank_gateway_url, banks_keyring(settings), timeout_s=settings.bank_timeout_s)
        dispatcher = Dispatcher(db, adapter)
        stop_event = threading.Event()
        thread = threading.Thread(target=dispatcher.run_forever, args=(stop_event,), name="bank-dispatcher",
                                  daemon=True)
        thread.start()
        return cls(dispatcher, adapter, stop_event, thread)

    def stop(self) -> None:
        self.stop_event.set()
        self.thread.join(timeout=30)
        self.dispatcher.close()
        self.adapter.close()
