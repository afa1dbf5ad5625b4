"""A small data set for the figures, built through the real services (intake, bank holds and their answers,
carrier actions and their answers) at chosen instants, so every figure has a value computed by hand.

Day D is ten local days before today (reports may be at most a year old); the period is D .. D+2.

C0  D-1 23:59  110      task_rebate            50,000 CNY -> ABC A0; stop held 50,000 (+5 min). Outside.
C1  D   09:00  110      impersonate_authority  70,000 CNY -> ABC A1; stop held 70,000 (+12 min); freeze held 70,000.
C2  D   10:00  12345    task_rebate            5,000 + 3,000 CNY -> ICBC A2; stop 8,000 held 6,000 (+30 min);
                                               CMCC shuts N1 down.
C3  D+1 08:00  110      fake_investment        299,000 EUR -> BOC A5; stop held 299,000 (+20 min, a supervisor
                                               approved it); freeze held 299,000.
C4  D+1 14:00  station  fake_customer_service  12,000.50 CNY -> CCB A3; stop held 0 (+5 min);
                                               1,500 USD -> BOC A4; stop refused (+6 min).
C5  D+2 20:00  web      task_rebate            999.99 CNY, bank unknown: no stop; N2 intercepted at CUCC and CTCC;
                                               CMCC refuses to shut N3.
C6  D+2 23:30  110      task_rebate            20,000 CNY -> ABC A1 (as C1); stop held 20,000 (+40 min: on D+3).
C7  D+3 00:00  app      other                  1,000 CNY -> ABC A7; stop held 1,000 (+3 min). Outside.
C8  D-3 10:00  110      task_rebate            4,000 CNY -> ABC A8; stop held 4,000 (+10 min); CMCC shuts N4 down.
                                               Filed between C3 and C4 (a report dated back): outside, though its
                                               case id lies among the period's.

Flash warnings (the live call watch's records; sent and answered through the flash dispatcher):
W0 D-1 12:00 task_rebate delivered (outside); W1 D 09:30 impersonate_authority delivered; W2 D+1 10:00
task_rebate sent, receipt UNDELIV; W3 D+2 11:00 task_rebate no SMS possible; W4 D+2 12:00 task_rebate still queued.
Callbacks (an agent's outcomes): P1 dissuaded D 09:20; P2 dissuaded D+1 15:00 and again D+2 16:00 (one person);
P3 not reached D+1; P4 dissuaded D+3 00:30 (outside).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from fanzha.auth import service as auth_service
from fanzha.auth.actor import Actor
from fanzha.auth.models import Role
from fanzha.banking import instructions
from fanzha.banking.first_move import center_signer
from fanzha.banking.instructions import ApprovalPolicy
from fanzha.banking.lifecycle import HoldKind
from fanzha.banking.models import BankInstruction
from fanzha.cases import intake
from fanzha.cases.schemas import ReportIn
from fanzha.config import SHANGHAI, Settings
from fanzha.outreach import callbacks, warnings
from fanzha.outreach.smpp import DeliveryReceipt, OutgoingSms
from fanzha.outreach.warnings import FlashDispatcher
from fanzha.reports.period import Period, local_today
from fanzha.storage.db import Database
from fanzha.telecom.carriers import actions
from fanzha.telecom.carriers.actions import CarrierPolicy
from fanzha.telecom.carriers.models import CarrierInstruction

BANKS = ("ABC", "ICBC", "CCB", "BOC")
CARRIERS = ("CMCC", "CUCC", "CTCC")
A0, A1, A2, A3, A4, A5, A7, A8 = ("6228480000000000000", "6228480402564890018", "6222020200112345678",
                                  "6217000010012345678", "6013820000012345678", "40600120000123456",
                                  "6228480000000000007", "6228480000000000008")
N1, N2, N3, N4 = "+8613800138001", "+85261234567", "+8613900139003", "+8613800138004"


@dataclass
class DataSet:
    day: date  # D
    period: Period  # D .. D+2
    numbers: dict[str, str]  # C1.. -> case number

    def at(self, day_offset: int, hh: int, mm: int = 0) -> datetime:
        return datetime.combine(self.day + timedelta(days=day_offset), time(hh, mm), SHANGHAI).astimezone(UTC)


class _Builder:
    def __init__(self, db: Database, settings: Settings, day: date) -> None:
        self.db, self.settings, self.day = db, settings, day
        self.signer = center_signer(settings)
        self.bank_policy = ApprovalPolicy(automatic=True, hand_answered_banks=frozenset(BANKS))
        self.carrier_policy = CarrierPolicy(hand_answered=frozenset(CARRIERS))
        self.officer = self._user(Role.DUTY_OFFICER, "center")
        self.supervisor = self._user(Role.SUPERVISOR, "center")
        self.banks = {b: self._user(Role.BANK_LIAISON, f"bank:{b}") for b in BANKS}
        self.carriers = {c: self._user(Role.CARRIER_LIAISON, f"carrier:{c}") for c in CARRIERS}
        self.agent = self._user(Role.CALLBACK_AGENT, "center")

    def _user(self, role: Role, org: str) -> Actor:
        name = f"fig-{role.value}-{org.replace(':', '-')}".lower()
        with self.db.transaction() as session:
            user = auth_service.create_user(session, None, username=name, display_name=name, role=role,
                                            org_code=org, password=None)
            return auth_service.actor_for(user)

    def at(self, day_offset: int, hh: int, mm: int = 0) -> datetime:
        return datetime.combine(self.day + timedelta(days=day_offset), time(hh, mm), SHANGHAI).astimezone(UTC)

    def case(self, received_at: datetime, channel: str, fraud_type: str,
             transfers: list[tuple[str, str | None, str, str]]) -> tuple[int, str]:
        report = ReportIn.model_validate({
            "channel": channel, "fraud_type": fraud_type, "received_at": received_at.isoformat(),
            "victim": {"name": "王某"}, "narrative": "市民报称被骗，已转账。",
            "transfers": [{"to_account": account, "to_bank": bank, "amount": amount, "currency": currency,
                           "occurred_at": (received_at - timedelta(minutes=30)).isoformat()}
                          for account, bank, amount, currency in transfers],
        })
        result = intake.create_case(self.db, self.settings, self.officer, report)
        return result.case.id, result.case.number

    def hold(self, case: tuple[int, str], kind: HoldKind, bank: str, account: str, amount: str, currency: str,
             issued: datetime, answered: datetime, held: str | None) -> None:
        """Issue a hold (approved by the supervisor when the rules want it) and record the bank's answer."""
        case_id, number = case
        with self.db.transaction() as session:
            row = instructions.issue_hold(
                session, self.officer, case_id=case_id, case_number=number, kind=kind, bank_code=bank,
                account=account, amount=Decimal(amount), currency=currency, reason="电信网络诈骗", now=issued,
                signer=self.signer, policy=self.bank_policy)
            if row.status == "pending_approval":
                instructions.approve(session, self.supervisor, row, case_number=number, reason="电信网络诈骗",
                                     now=issued, signer=self.signer, policy=self.bank_policy)
            instruction_id = row.id
        with self.db.transaction() as session:
            loaded = session.get(BankInstruction, instruction_id)
            assert loaded is not None and loaded.status == "sent", loaded and loaded.status
            instructions.answer_by_hand(session, self.banks[bank], loaded, case_number=number,
                                        held=held is not None, amount=Decimal(held) if held is not None else None,
                                        expires_at=None, reason="" if held is not None else "户名不符",
                                        now=answered)

    def carrier(self, case: tuple[int, str], numbers: list[str], action: str, intercept_at: list[str] | None,
                issued: datetime, answered: datetime, status: str) -> None:
        case_id, number = case
        with self.db.transaction() as session:
            result = actions.request_actions(
                session, self.officer, case_id=case_id, case_number=number, numbers=numbers,
                action=action, intercept_at=intercept_at,  # type: ignore[arg-type]
                reason="电信网络诈骗涉案号码", now=issued, signer=self.signer, policy=self.carrier_policy)
            ids = [i.id for i in result.created]
        assert ids, "no carrier instruction was created"
        with self.db.transaction() as session:
            for instruction_id in ids:
                row = session.get(CarrierInstruction, instruction_id)
                assert row is not None and row.status == "sent"
                actions.answer_by_hand(session, self.carriers[row.carrier], row, status=status, true_carrier=None,
                                       reason="" if status == "done" else "非涉诈号码", now=answered,
                                       case_number=number, signer=self.signer, policy=self.carrier_policy)


    def flash(self, warned: list[tuple[str, datetime, str, str]]) -> None:
        """Record one warning per (call, time, fraud type, fate) and play the SMSC's answers to each fate."""
        ids: dict[str, int] = {}
        with self.db.transaction() as session:
            for call, at, fraud_type, fate in warned:
                warning_id = warnings.record(session, call_id=call, number=f"+86138{len(ids):08d}",
                                             flagged="+85261234567", fraud_type=fraud_type, text="【反诈】请立即挂断",
                                             now=at, sendable=fate != "not_sent", callback_task_id=None)
                assert warning_id is not None
                ids[call] = warning_id
        dispatcher = FlashDispatcher(self.db, _SilentSmsc(), sweep_s=3600).start()
        sent = [ids[call] for call, _, _, fate in warned if fate in ("delivered", "undelivered")]
        assert dispatcher.claim(sent) == set(sent)
        for call, at, _, fate in warned:
            if fate in ("delivered", "undelivered"):
                dispatcher.submitted(ids[call], f"smsc-{call}")
                dispatcher.receipt(DeliveryReceipt(f"smsc-{call}", "DELIVRD" if fate == "delivered" else "UNDELIV",
                                                   None, at + timedelta(seconds=8)))
        dispatcher.stop()

    def callback(self, phone: str, opened: datetime, outcome: str, at: datetime) -> None:
        with self.db.transaction() as session:
            task = callbacks.open_task(session, phone=phone, grade="high", source="manual", reason="回访潜在被害人",
                                       now=opened)
            callbacks.claim(session, self.agent, task.id, at)
            callbacks.record_outcome(session, self.agent, task.id, outcome, at)


class _SilentSmsc:
    """An SMS session that accepts everything and says nothing: the test plays the SMSC's answers itself."""

    connected = True

    def start(self, events: object) -> None:
        pass

    def submit(self, messages: list[OutgoingSms]) -> None:
        pass

    def queued(self) -> int:
        return 0

    def stop(self) -> None:
        pass


def build(db: Database, settings: Settings, *, now: datetime | None = None) -> DataSet:
    day = local_today(now) - timedelta(days=10)
    b = _Builder(db, settings, day)
    at = b.at
    stop, freeze = HoldKind.STOP_PAYMENT, HoldKind.FREEZE
    made: dict[str, tuple[int, str]] = {}

    def case(name: str, *args: Any) -> tuple[int, str]:
        made[name] = b.case(*args)
        return made[name]

    c0 = case("C0", at(-1, 23, 59), "110", "task_rebate", [(A0, "ABC", "50000", "CNY")])
    b.hold(c0, stop, "ABC", A0, "50000", "CNY", at(-1, 23, 59) + timedelta(minutes=1),
           at(-1, 23, 59) + timedelta(minutes=5), "50000")

    c1 = case("C1", at(0, 9), "110", "impersonate_authority", [(A1, "ABC", "70000", "CNY")])
    b.hold(c1, stop, "ABC", A1, "70000", "CNY", at(0, 9, 1), at(0, 9, 12), "70000")
    b.hold(c1, freeze, "ABC", A1, "70000", "CNY", at(0, 11), at(0, 11, 30), "70000")

    c2 = case("C2", at(0, 10), "12345", "task_rebate", [(A2, "ICBC", "5000", "CNY"), (A2, "ICBC", "3000", "CNY")])
    b.hold(c2, stop, "ICBC", A2, "8000", "CNY", at(0, 10, 2), at(0, 10, 30), "6000")
    b.carrier(c2, [N1], "shutdown", None, at(0, 10, 5), at(0, 10, 40), "done")

    c3 = case("C3", at(1, 8), "110", "fake_investment", [(A5, "BOC", "299000", "EUR")])
    b.hold(c3, stop, "BOC", A5, "299000", "EUR", at(1, 8, 3), at(1, 8, 20), "299000")
    b.hold(c3, freeze, "BOC", A5, "299000", "EUR", at(1, 12), at(1, 12, 30), "299000")

    # A report dated back three days, typed in now: numbered between C3 and C4, received before the period.
    c8 = case("C8", at(-3, 10), "110", "task_rebate", [(A8, "ABC", "4000", "CNY")])
    b.hold(c8, stop, "ABC", A8, "4000", "CNY", at(-3, 10, 5), at(-3, 10, 10), "4000")
    b.carrier(c8, [N4], "shutdown", None, at(-3, 10, 20), at(-3, 10, 30), "done")

    c4 = case("C4", at(1, 14), "station", "fake_customer_service",
              [(A3, "CCB", "12000.50", "CNY"), (A4, "BOC", "1500", "USD")])
    b.hold(c4, stop, "CCB", A3, "12000.50", "CNY", at(1, 14, 1), at(1, 14, 5), "0")
    b.hold(c4, stop, "BOC", A4, "1500", "USD", at(1, 14, 1), at(1, 14, 6), None)

    c5 = case("C5", at(2, 20), "web", "task_rebate", [("6299990000000000005", None, "999.99", "CNY")])
    b.carrier(c5, [N2], "intercept", ["CUCC", "CTCC"], at(2, 20, 10), at(2, 20, 30), "done")
    b.carrier(c5, [N3], "shutdown", None, at(2, 20, 10), at(2, 20, 35), "refused")

    c6 = case("C6", at(2, 23, 30), "110", "task_rebate", [(A1, "ABC", "20000", "CNY")])
    b.hold(c6, stop, "ABC", A1, "20000", "CNY", at(2, 23, 32), at(3, 0, 10), "20000")

    c7 = case("C7", at(3, 0), "app", "other", [(A7, "ABC", "1000", "CNY")])
    b.hold(c7, stop, "ABC", A7, "1000", "CNY", at(3, 0, 1), at(3, 0, 3), "1000")

    b.flash([("w0", at(-1, 12), "task_rebate", "delivered"), ("w1", at(0, 9, 30), "impersonate_authority", "delivered"),
             ("w2", at(1, 10), "task_rebate", "undelivered"), ("w3", at(2, 11), "task_rebate", "not_sent"),
             ("w4", at(2, 12), "task_rebate", "queued")])
    b.callback("+8613700000001", at(0, 9), "dissuaded", at(0, 9, 20))
    b.callback("+8613700000002", at(1, 14), "dissuaded", at(1, 15))
    b.callback("+8613700000002", at(2, 15), "dissuaded", at(2, 16))
    b.callback("+8613700000003", at(1, 14), "not_reached", at(1, 14, 30))
    b.callback("+8613700000004", at(2, 23), "dissuaded", at(3, 0, 30))

    return DataSet(day=day, period=Period(day, day + timedelta(days=2)),
                   numbers={name: number for name, (_, number) in made.items()})
