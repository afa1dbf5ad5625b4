"""What a bank does with each instruction: act on its books and say what it did. No HTTP, no signatures.

Business refusals (unknown account, wrong holder name, nothing to hold, a third stop-payment renewal, a return
from something that is not an active freeze or beyond what it holds) are answers with status ``rejected``;
the queries, whose results have no status, answer an ``Error`` instead.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

from fanzha.banking import messages as m
from sim.banks.ledger import Account, AccountStatus, Hold, HoldKind, Ledger, LedgerError

# Opens an account the books do not have yet, or returns None (see seed.open_on_demand).
Opener = Callable[[str, str], Account | None]


def _account(ledger: Ledger, bank_code: str, number: str, opener: Opener | None) -> Account:
    account = ledger.find(bank_code, number)
    if account is None and opener is not None:
        account = opener(bank_code, number)
    if account is None:
        raise LedgerError("no_such_account", f"{bank_code} has no account {number}")
    return account


def _check_name(account: Account, name: str | None) -> None:
    # The bank checks the holder's name when the instruction gives one (DOMAIN.md §3).
    if name is not None and name.strip() != account.holder_name:
        raise LedgerError("name_mismatch", f"the account holder is not {name.strip()!r}")


def _not_closed(account: Account) -> None:
    if account.status is AccountStatus.CLOSED:
        raise LedgerError("account_closed", f"account {account.number} is closed")


def stop_payment(ledger: Ledger, bank_code: str, request_id: str, body: m.StopPayment,
                 opener: Opener | None) -> m.StopPaymentResult:
    try:
        account = _account(ledger, bank_code, body.account, opener)
        _check_name(account, body.account_name)
        _not_closed(account)
        balance = account.balance(body.currency)
        outcome = ledger.place_hold(HoldKind.STOP_PAYMENT, bank_code, body.account, body.amount, body.currency,
                                    term=timedelta(hours=body.hold_hours), case_number=body.case_number,
                                    reference=request_id)
    except LedgerError as exc:
        return m.StopPaymentResult(request_id=request_id, status="rejected", held_amount=Decimal(0),
                                   currency=body.currency, reason=_reason(exc))
    status = "held" if outcome.status == "held" else "partial"
    return m.StopPaymentResult(request_id=request_id, status=status, held_amount=outcome.hold.amount,
                               currency=body.currency, balance_at_hold=balance, expires_at=outcome.hold.expires_at)


def freeze(ledger: Ledger, bank_code: str, request_id: str, body: m.Freeze, opener: Opener | None) -> m.FreezeResult:
    try:
        account = _account(ledger, bank_code, body.account, opener)
        _not_closed(account)
        outcome = ledger.place_hold(HoldKind.FREEZE, bank_code, body.account, body.amount, body.currency,
                                    major_case=body.major_case, term=timedelta(days=body.days),
                                    case_number=body.case_number, reference=request_id)
    except LedgerError as exc:
        return m.FreezeResult(request_id=request_id, status="rejected", frozen_amount=Decimal(0),
                              currency=body.currency, reason=_reason(exc))
    status = "frozen" if outcome.status == "held" else "partial"
    return m.FreezeResult(request_id=request_id, status=status, frozen_amount=outcome.hold.amount,
                          currency=body.currency, expires_at=outcome.hold.expires_at)


def _target(ledger: Ledger, bank_code: str, target_id: str, kind: str, case_number: str) -> Hold:
    hold = ledger.find_hold(target_id)
    if hold is None or hold.bank_code != bank_code:
        raise LedgerError("no_such_hold", f"{bank_code} holds nothing placed by instruction {target_id}")
    if hold.kind.value != kind:
        raise LedgerError("wrong_kind", f"instruction {target_id} placed a {hold.kind.value}, not a {kind}")
    if hold.case_number != case_number:
        raise LedgerError("wrong_case", f"the hold belongs to case {hold.case_number}, not {case_number}")
    return hold


def renew(ledger: Ledger, bank_code: str, request_id: str, body: m.Renew) -> m.RenewResult:
    try:
        hold = _target(ledger, bank_code, body.target_id, body.kind, body.case_number)
        unit = "hours" if hold.kind is HoldKind.STOP_PAYMENT else "days"
        ledger.renew(hold.id, timedelta(**{unit: body.hours_or_days}))
    except LedgerError as exc:
        return m.RenewResult(request_id=request_id, status="rejected", reason=_reason(exc))
    return m.RenewResult(request_id=request_id, status="renewed", expires_at=hold.expires_at)


def release(ledger: Ledger, bank_code: str, request_id: str, body: m.Release) -> m.ReleaseResult:
    try:
        hold = _target(ledger, bank_code, body.target_id, body.kind, body.case_number)
        ledger.release(hold.id)
    except LedgerError as exc:
        return m.ReleaseResult(request_id=request_id, status="rejected", reason=_reason(exc))
    return m.ReleaseResult(request_id=request_id, status="released")


def return_funds(ledger: Ledger, bank_code: str, request_id: str, body: m.Return,
                 opener: Opener | None) -> m.ReturnResult:
    """资金返还: the frozen money goes back to the victim's account; what is left stays frozen."""
    try:
        hold = _target(ledger, bank_code, body.target_id, HoldKind.FREEZE.value, body.case_number)
        if hold.account != body.account:
            raise LedgerError("wrong_account", f"the freeze is on account {hold.account}, not {body.account}")
        ledger.return_from_hold(hold.id, body.amount, body.currency, body.payee_bank, body.payee_account,
                                body.payee_name, opener=opener, memo=f"资金返还 {body.case_number}")
    except LedgerError as exc:
        return m.ReturnResult(request_id=request_id, status="rejected", returned_amount=Decimal(0),
                              currency=body.currency, reason=_reason(exc))
    return m.ReturnResult(request_id=request_id, status="returned", returned_amount=body.amount,
                          currency=body.currency, executed_at=ledger.now())


def transaction_query(ledger: Ledger, bank_code: str, request_id: str, body: m.TransactionQuery,
                      opener: Opener | None) -> m.TransactionQueryResult | m.Error:
    try:
        _account(ledger, bank_code, body.account, opener)
    except LedgerError as exc:
        return m.Error(request_id=request_id, code=exc.code, message=exc.message)
    rows = ledger.transactions(bank_code, body.account, since=body.since, until=body.until)
    return m.TransactionQueryResult(request_id=request_id, account=body.account, transactions=[
        m.Transaction(txn_id=t.id, at=t.at, direction=t.direction.value, amount=t.amount, currency=t.currency,
                      counterparty_account=t.counterparty_account, counterparty_bank=t.counterparty_bank,
                      channel=t.channel.value, balance_after=t.balance_after)
        for t in rows])


def account_query(ledger: Ledger, bank_code: str, request_id: str, body: m.AccountQuery,
                  opener: Opener | None) -> m.AccountQueryResult | m.Error:
    try:
        account = _account(ledger, bank_code, body.account, opener)
    except LedgerError as exc:
        return m.Error(request_id=request_id, code=exc.code, message=exc.message)
    currencies = sorted(account.balances) or ["CNY"]
    balances = [m.Balance(currency=c, balance=account.balance(c),
                          available=ledger.available(bank_code, account.number, c)) for c in currencies]
    holds = [m.Hold(hold_id=h.id, kind=h.kind.value,
                    amount=account.balance(h.currency) if h.whole else h.amount,
                    currency=h.currency, expires_at=h.expires_at)
             for h in account.active_holds()]
    return m.AccountQueryResult(request_id=request_id, account=account.number, holder_name=account.holder_name,
                                holder_id_masked=account.id_masked or "***", status=account.status.value,
                                balances=balances, holds=holds)


def _reason(exc: LedgerError) -> str:
    return f"{exc.code}: {exc.message}"[:500]


def answer(ledger: Ledger, envelope: m.Envelope, opener: Opener | None = None) -> m.MessageBody:
    """The answer body to an instruction that has passed signature and routing checks."""
    bank, rid, body = envelope.bank_code, envelope.id, envelope.typed_body()
    match body:
        case m.StopPayment():
            return stop_payment(ledger, bank, rid, body, opener)
        case m.Freeze():
            return freeze(ledger, bank, rid, body, opener)
        case m.Renew():
            return renew(ledger, bank, rid, body)
        case m.Release():
            return release(ledger, bank, rid, body)
        case m.TransactionQuery():
            return transaction_query(ledger, bank, rid, body, opener)
        case m.AccountQuery():
            return account_query(ledger, bank, rid, body, opener)
        case m.Return():
            return return_funds(ledger, bank, rid, body, opener)
        case _:
            return m.Error(request_id=rid, code="not_an_instruction",
                           message=f"a bank does not accept {envelope.type.value} messages")
