"""The carrier channel inside a server process: a dispatcher thread delivering the carrier outbox."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from fanzha.banking.first_move import center_signer
from fanzha.config import Settings
from fanzha.storage.db import Database
from fanzha.telecom.carriers.actions import policy_for
from fanzha.telecom.carriers.adapter import CARRIERS_KEYRING, HttpCarrierAdapter, KeyRingFile
from fanzha.telecom.carriers.dispatcher import CarrierDispatcher


@dataclass
class CarrierDelivery:
    """Delivers the carrier outbox to the carrier gateway (or ``fanzha sim carriers``) until the server stops."""

    dispatcher: CarrierDispatcher
    adapter: HttpCarrierAdapter
    stop_event: threading.Event
    thread: threading.Thread

    @classmethod
    def start(cls, db: Database, settings: Settings) -> CarrierDelivery:
        keyring = KeyRingFile(settings.keys_dir / CARRIERS_KEYRING)
        adapter = HttpCarrierAdapter(settings.carrier_gateway_url, keyring, timeout_s=settings.carrier_timeout_s)
        dispatcher = CarrierDispatcher(db, adapter, signer=center_signer(settings), policy=policy_for(settings))
        stop_event = threading.Event()
        thread = threading.Thread(target=dispatcher.run_forever, args=(stop_event,), name="carrier-dispatcher",
                                  daemon=True)
        thread.start()
        return cls(dispatcher, adapter, stop_event, thread)

    def stop(self) -> None:
        self.stop_event.set()
        self.thread.join(timeout=30)
        self.dispatcher.close()
        self.adapter.close()
