"""The indexes the figures read (storage migrations 0008 and 0009), declared on the tables they belong to.

Each lets a figure read only what it needs, in the order it needs it, from the index alone: the period's
cases by ``received_at`` (with their channel, fraud type and id), and each child table by ``case_id`` over
the cohort's band of ids (see ``figures.Band``). The partial ones hold only the rows a figure can count:
held stop-payments and freezes (with the time money was first held), returns the bank executed, carrier
actions reported done. storage/models.py imports this module so
that the metadata (and the migration check) knows them.
"""

from __future__ import annotations

from sqlalchemy import Index, text

from fanzha.banking.models import BankInstruction
from fanzha.cases.models import Case, Transfer
from fanzha.telecom.carriers.models import CarrierInstruction

HELD = "kind IN ('stop_payment', 'freeze') AND held_amount IS NOT NULL"
DONE = "status = 'done'"
RETURNED = "kind = 'return' AND returned_amount IS NOT NULL"

FIGURE_INDEXES = (
    Index("ix_cases_figures", Case.received_at, Case.channel, Case.fraud_type, Case.id),
    Index("ix_case_transfers_figures", Transfer.case_id, Transfer.currency, Transfer.amount),
    Index("ix_bank_instructions_figures", BankInstruction.case_id, BankInstruction.kind, BankInstruction.currency,
          postgresql_include=["held_amount", "held_at", "bank_code", "account"],
          postgresql_where=text(HELD), sqlite_where=text(HELD)),
    Index("ix_bank_instructions_returns", BankInstruction.case_id, BankInstruction.currency,
          postgresql_include=["returned_amount"], postgresql_where=text(RETURNED), sqlite_where=text(RETURNED)),
    Index("ix_carrier_instructions_figures", CarrierInstruction.case_id, CarrierInstruction.action,
          CarrierInstruction.number, postgresql_where=text(DONE), sqlite_where=text(DONE)),
)
