"""The carrier channel inside a server process: a dispatcher thread delivering the carrier outbox."""

from __future__ import annotations

from fanzha.banking.first_move import center_signer
from fanzha.channel.delivery import Delivery
from fanzha.config import Settings
from fanzha.storage.db import Database
from fanzha.telecom.carriers.actions import policy_for
from fanzha.telecom.carriers.adapter import CARRIERS_KEYRING, HttpCarrierAdapter, KeyRingFile
from fanzha.telecom.carriers.dispatcher import CarrierDispatcher


class CarrierDelivery(Delivery[CarrierDispatcher, HttpCarrierAdapter]):
    """Delivers the carrier outbox to the carrier gateway (or ``fanzha sim carriers``) until the server stops."""

    @classmethod
    def start(cls, db: Database, settings: Settings) -> CarrierDelivery:
        keyring = KeyRingFile(settings.keys_dir / CARRIERS_KEYRING)
        adapter = HttpCarrierAdapter(settings.carrier_gateway_url, keyring, timeout_s=settings.carrier_timeout_s)
        dispatcher = CarrierDispatcher(db, adapter, signer=center_signer(settings), policy=policy_for(settings))
        stop_event, thread = cls.launch(dispatcher.run_forever, name="carrier-dispatcher")
        return cls(dispatcher, adapter, stop_event, thread)
