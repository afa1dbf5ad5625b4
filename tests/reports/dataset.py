"""A small data set for the figures, built through the real services (intake, bank holds and their answers,
carrier actions and their answers) at chosen instants, so every figure has a value computed by hand.

Day D is ten local days before today (reports may be at most a year old); the period is D .. D+2.

C0  D-1 23:59  110      task_rebate            50,000 CNY -> ABC A0; stop held 50,000 (+5 min). Outside.
C1  D   09:00  110      impersonate_authority  70,000 CNY from CMB P1 -> ABC A1; stop held 70,000 (+12 min); freeze
                                               held 70,000; 58,000 returned to P1 (see Returns).
C2  D   10:00  12345    task_rebate            5,000 + 3,000 CNY -> ICBC A2; stop 8,000 held 6,000 (+30 min), renewed
                                               on D+1 22:00 and the renewal answered on D+2 08:00 (the first stop
                                               time stays 30 min); CMCC shuts N1 down.
C3  D+1 08:00  110      fake_investment        299,000 EUR from ICBC P3 -> BOC A5; stop held 299,000 (+20 min, a
                                               supervisor approved it); freeze held 299,000; all of it returned to P3
                                               at the second attempt (see Returns).
C4  D+1 14:00  station  fake_customer_service  12,000.50 CNY -> CCB A3; stop held 0 (+5 min);
                                               1,500 USD -> BOC A4; stop refused (+6 min).
C5  D+2 20:00  web      task_rebate            999.99 CNY, bank unknown: no stop; N2 intercepted at CUCC and CTCC;
                                               CMCC refuses to shut N3.
C6  D+2 23:30  110      task_rebate            20,000 CNY -> ABC A1 (as C1); stop held 20,000 (+40 min: on D+3).
C7  D+3 00:00  app      other                  1,000 CNY from CMB P7 -> ABC A7; stop held 1,000 (+3 min); freeze held
                                               1,000; all of it returned to P7. Outside.
C8  D-3 10:00  110      task_rebate            4,000 CNY -> ABC A8; stop held 4,000 (+10 min); CMCC shuts N4 down.
                                               Filed between C3 and C4 (a report dated back): outside, though its
                                               case id lies among the period's.

Returns (资金返还), through banking/returns.py: the frozen account's statement is stored as the trace loop stores
a bank's answer, the officer plans the return (one victim's money: returned directly), a supervisor approves it
and the bank's signed ReturnResult is applied as the dispatcher applies it (which takes the amount off the
freeze's held amount).
  C1: ABC A1 received the victim's 70,000 (D 08:30), paid 12,000 out at an ATM (08:45) and took 12,000 of the
      holder's own cash (08:55): the trace gives the victim 58,000 of the 70,000 frozen. Planned D+3 10:00,
      approved 10:05, returned 58,000 CNY on D+4 11:00 (the freeze holds 12,000 after it).
  C3: BOC A5 holds only the victim's 299,000 EUR. The first return (planned and approved D+3) is refused by the
      bank on D+4 09:00; planned again D+5 10:00, approved 10:10, returned 299,000 EUR on D+6 15:00 (the freeze
      holds 0 after it).
  C7: ABC A7 holds only the victim's 1,000 CNY: frozen D+3 01:30, returned 1,000 on D+5 16:00.

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

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from fanzha.auth import service as auth_service
from fanzha.auth.actor import Actor
from fanzha.auth.models import Role
from fanzha.banking import instructions, outbox, returns
from fanzha.banking import messages as m
from fanzha.banking.first_move import center_signer
from fanzha.banking.instructions import ApprovalPolicy
from fanzha.banking.keys import SigningKey, kid_for
from fanzha.banking.lifecycle import HoldKind
from fanzha.banking.models import BankInstruction, OutboxMessage
from fanzha.banking.signing import answer_to
from fanzha.cases import intake
from fanzha.cases.models import Case
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
from fanzha.tracing import store
from fanzha.tracing.loop import TraceConfig

BANKS = ("ABC", "ICBC", "CCB", "BOC")
CARRIERS = ("CMCC", "CUCC", "CTCC")
A0, A1, A2, A3, A4, A5, A7, A8 = ("6228480000000000000", "6228480402564890018", "6222020200112345678",
                                  "6217000010012345678", "6013820000012345678", "40600120000123456",
                                  "6228480000000000007", "6228480000000000008")
N1, N2, N3, N4 = "+8613800138001", "+85261234567", "+8613900139003", "+8613800138004"
# The accounts victims paid from (where returned money goes back to).
P1, P3, P7 = ("CMB", "6214830000000011"), ("ICBC", "6222020200100000003"), ("CMB", "6214830000000077")


@dataclass
class DataSet:
    day: date  # D
    period: Period  # D .. D+2
    numbers: dict[str, str]  # C1.. -> case number
    holds: dict[str, int]  # "C1 stop_payment", "C1 freeze".. -> instruction id
    builder: _Builder

    def at(self, day_offset: int, hh: int, mm: int = 0) -> datetime:
        return datetime.combine(self.day + timedelta(days=day_offset), time(hh, mm), SHANGHAI).astimezone(UTC)

    def renew(self, hold: str, requested: datetime, answered: datetime) -> None:
        """Renew a hold of the data set (e.g. "C6 stop_payment") through the bank's liaison."""
        self.builder.renew(self.holds[hold], requested, answered)


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
             transfers: list[tuple[str, str | None, str, str]],
             payer: tuple[str, str] | None = None) -> tuple[int, str]:
        """A report; ``payer`` is the (bank, account) the victim paid from, named on every transfer."""
        paid_from = {"from_bank": payer[0], "from_account": payer[1]} if payer else {}
        report = ReportIn.model_validate({
            "channel": channel, "fraud_type": fraud_type, "received_at": received_at.isoformat(),
            "victim": {"name": "王某"}, "narrative": "市民报称被骗，已转账。",
            "transfers": [{"to_account": account, "to_bank": bank, "amount": amount, "currency": currency,
                           "occurred_at": (received_at - timedelta(minutes=30)).isoformat(), **paid_from}
                          for account, bank, amount, currency in transfers],
        })
        result = intake.create_case(self.db, self.settings, self.officer, report)
        return result.case.id, result.case.number

    def hold(self, case: tuple[int, str], kind: HoldKind, bank: str, account: str, amount: str, currency: str,
             issued: datetime, answered: datetime, held: str | None) -> int:
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
        return instruction_id

    def renew(self, instruction_id: int, requested: datetime, answered: datetime) -> None:
        """An officer asks the bank to renew an active hold; the bank's liaison answers that it is renewed."""
        with self.db.transaction() as session:
            row = session.get(BankInstruction, instruction_id)
            assert row is not None
            number = self._number(session, row.case_id)
            instructions.request_renewal(session, self.officer, row, case_number=number, now=requested,
                                         signer=self.signer, by_hand=True)
        with self.db.transaction() as session:
            row = session.get(BankInstruction, instruction_id)
            assert row is not None
            instructions.answer_by_hand(session, self.banks[row.bank_code], row, case_number=number, held=True,
                                        amount=None, expires_at=None, reason="", now=answered)
            assert row.renewals >= 1 and row.answered_at == answered, "the renewal was not recorded"

    @staticmethod
    def _number(session: Any, case_id: int) -> str:
        return str(session.execute(select(Case.number).where(Case.id == case_id)).scalar_one())

    def statement(self, case: tuple[int, str], bank: str, account: str, currency: str,
                  legs: list[tuple[str, datetime, str, str, tuple[str, str] | None, str, str]]) -> None:
        """One account's statement, stored for the case as the trace loop stores a bank's answer.
        Legs: (txn id, time, in/out, amount, counterparty, channel, balance after)."""
        with self.db.transaction() as session:
            store.save_legs(session, case_id=case[0], instruction_id=None, source="bank", legs=[
                store.Leg(bank_code=bank, account=account, txn_id=txn, at=at, direction=direction,
                          amount=Decimal(amount), currency=currency,
                          counterparty_bank=other[0] if other else None,
                          counterparty_account=other[1] if other else None, channel=channel,
                          balance_after=Decimal(balance))
                for txn, at, direction, amount, other, channel, balance in legs])

    def give_back(self, freeze_id: int, planned: datetime, approved: datetime, answered: datetime | None,
                  returned: str | None, reason: str = "") -> int:
        """Plan the return of a freeze (it must go to one victim), have a supervisor approve it and, with
        ``answered``, apply the bank's answer (see ``answer_return``). Returns the return's id."""
        with self.db.transaction() as session:
            hold = session.get(BankInstruction, freeze_id, with_for_update=True)
            assert hold is not None
            number = self._number(session, hold.case_id)
            proposal = returns.propose_returns(session, self.officer, hold, case_number=number, now=planned,
                                               config=TraceConfig())
            (share,) = proposal.shares
            assert share.instruction_id is not None and share.status == returns.PENDING_APPROVAL, share
            return_id = share.instruction_id
        with self.db.transaction() as session:
            row = session.get(BankInstruction, return_id, with_for_update=True)
            assert row is not None
            returns.approve_return(session, self.supervisor, row, case_number=number, now=approved,
                                   signer=self.signer)
        if answered is not None:
            self.answer_return(return_id, answered, returned, reason)
        return return_id

    def answer_return(self, return_id: int, answered: datetime, returned: str | None, reason: str = "") -> None:
        """The bank's signed ReturnResult, applied as the dispatcher applies it: ``returned`` is the amount the
        bank says it sent back, ``None`` a refusal for ``reason``."""
        with self.db.transaction() as session:
            row = session.get(BankInstruction, return_id, with_for_update=True)
            assert row is not None
            number = self._number(session, row.case_id)
            message = session.execute(select(OutboxMessage).where(OutboxMessage.instruction_id == return_id)
                                      ).scalar_one()
            assert message.status == "pending"
            request = m.parse_envelope(message.envelope)
            body = m.ReturnResult(
                request_id=request.id, status="returned" if returned is not None else "rejected",
                returned_amount=Decimal(returned or 0), currency=row.currency,
                executed_at=answered if returned is not None else None, reason=reason or None)
            answer = answer_to(request, body, self.bank_signer(row.bank_code), sent_at=answered)
            instructions.received(session, row, request, answered)
            instructions.apply_answer(session, row, answer, answered, number)
            outbox.mark_delivered(session, message.id, answered)
            assert row.status == ("returned" if returned is not None else "rejected"), row.status

    def bank_signer(self, bank: str) -> SigningKey:
        key = Ed25519PrivateKey.generate()
        return SigningKey(org=f"bank:{bank}", kid=kid_for(key.public_key()), private_key=key)

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
    holds: dict[str, int] = {}

    def case(name: str, *args: Any, payer: tuple[str, str] | None = None) -> tuple[int, str]:
        made[name] = b.case(*args, payer=payer)
        return made[name]

    def hold(name: str, kind: HoldKind, *args: Any) -> None:
        holds[f"{name} {kind.value}"] = b.hold(made[name], kind, *args)

    case("C0", at(-1, 23, 59), "110", "task_rebate", [(A0, "ABC", "50000", "CNY")])
    hold("C0", stop, "ABC", A0, "50000", "CNY", at(-1, 23, 59) + timedelta(minutes=1),
         at(-1, 23, 59) + timedelta(minutes=5), "50000")

    c1 = case("C1", at(0, 9), "110", "impersonate_authority", [(A1, "ABC", "70000", "CNY")], payer=P1)
    hold("C1", stop, "ABC", A1, "70000", "CNY", at(0, 9, 1), at(0, 9, 12), "70000")
    hold("C1", freeze, "ABC", A1, "70000", "CNY", at(0, 11), at(0, 11, 30), "70000")

    c2 = case("C2", at(0, 10), "12345", "task_rebate", [(A2, "ICBC", "5000", "CNY"), (A2, "ICBC", "3000", "CNY")])
    hold("C2", stop, "ICBC", A2, "8000", "CNY", at(0, 10, 2), at(0, 10, 30), "6000")
    b.carrier(c2, [N1], "shutdown", None, at(0, 10, 5), at(0, 10, 40), "done")
    # Renewed within the period: the bank's answer moves answered_at, not the first stop time.
    b.renew(holds["C2 stop_payment"], at(1, 22), at(2, 8))

    c3 = case("C3", at(1, 8), "110", "fake_investment", [(A5, "BOC", "299000", "EUR")], payer=P3)
    hold("C3", stop, "BOC", A5, "299000", "EUR", at(1, 8, 3), at(1, 8, 20), "299000")
    hold("C3", freeze, "BOC", A5, "299000", "EUR", at(1, 12), at(1, 12, 30), "299000")

    # A report dated back three days, typed in now: numbered between C3 and C4, received before the period.
    c8 = case("C8", at(-3, 10), "110", "task_rebate", [(A8, "ABC", "4000", "CNY")])
    hold("C8", stop, "ABC", A8, "4000", "CNY", at(-3, 10, 5), at(-3, 10, 10), "4000")
    b.carrier(c8, [N4], "shutdown", None, at(-3, 10, 20), at(-3, 10, 30), "done")

    case("C4", at(1, 14), "station", "fake_customer_service",
         [(A3, "CCB", "12000.50", "CNY"), (A4, "BOC", "1500", "USD")])
    hold("C4", stop, "CCB", A3, "12000.50", "CNY", at(1, 14, 1), at(1, 14, 5), "0")
    holds["C4 stop_payment USD"] = b.hold(made["C4"], stop, "BOC", A4, "1500", "USD", at(1, 14, 1), at(1, 14, 6),
                                          None)

    c5 = case("C5", at(2, 20), "web", "task_rebate", [("6299990000000000005", None, "999.99", "CNY")])
    b.carrier(c5, [N2], "intercept", ["CUCC", "CTCC"], at(2, 20, 10), at(2, 20, 30), "done")
    b.carrier(c5, [N3], "shutdown", None, at(2, 20, 10), at(2, 20, 35), "refused")

    case("C6", at(2, 23, 30), "110", "task_rebate", [(A1, "ABC", "20000", "CNY")])
    hold("C6", stop, "ABC", A1, "20000", "CNY", at(2, 23, 32), at(3, 0, 10), "20000")

    c7 = case("C7", at(3, 0), "app", "other", [(A7, "ABC", "1000", "CNY")], payer=P7)
    hold("C7", stop, "ABC", A7, "1000", "CNY", at(3, 0, 1), at(3, 0, 3), "1000")
    hold("C7", freeze, "ABC", A7, "1000", "CNY", at(3, 1), at(3, 1, 30), "1000")

    # Returns (see the table above): statements of the frozen accounts, then plan, approve, the bank's answer.
    b.statement(c1, "ABC", A1, "CNY", [
        ("a1-1", at(0, 8, 30), "in", "70000", P1, "transfer", "70000"),
        ("a1-2", at(0, 8, 45), "out", "12000", None, "atm", "58000"),
        ("a1-3", at(0, 8, 55), "in", "12000", None, "counter", "70000"),
    ])
    b.give_back(holds["C1 freeze"], at(3, 10), at(3, 10, 5), at(4, 11), "58000")
    b.statement(c3, "BOC", A5, "EUR", [("a5-1", at(1, 7, 30), "in", "299000", P3, "transfer", "299000")])
    b.give_back(holds["C3 freeze"], at(3, 10), at(3, 10, 10), at(4, 9), None, reason="回执要素不全，请重新发起")
    b.give_back(holds["C3 freeze"], at(5, 10), at(5, 10, 10), at(6, 15), "299000")
    b.statement(c7, "ABC", A7, "CNY", [("a7-1", at(2, 23, 30), "in", "1000", P7, "transfer", "1000")])
    b.give_back(holds["C7 freeze"], at(4, 10), at(4, 10, 5), at(5, 16), "1000")

    b.flash([("w0", at(-1, 12), "task_rebate", "delivered"), ("w1", at(0, 9, 30), "impersonate_authority", "delivered"),
             ("w2", at(1, 10), "task_rebate", "undelivered"), ("w3", at(2, 11), "task_rebate", "not_sent"),
             ("w4", at(2, 12), "task_rebate", "queued")])
    b.callback("+8613700000001", at(0, 9), "dissuaded", at(0, 9, 20))
    b.callback("+8613700000002", at(1, 14), "dissuaded", at(1, 15))
    b.callback("+8613700000002", at(2, 15), "dissuaded", at(2, 16))
    b.callback("+8613700000003", at(1, 14), "not_reached", at(1, 14, 30))
    b.callback("+8613700000004", at(2, 23), "dissuaded", at(3, 0, 30))

    return DataSet(day=day, period=Period(day, day + timedelta(days=2)),
                   numbers={name: number for name, (_, number) in made.items()}, holds=holds, builder=b)
