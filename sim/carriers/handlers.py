"""What a carrier does with an instruction: act on its register and say what it did. No HTTP, no signatures.

- shutdown (停机) / block (封堵): only the network that holds the number can; any other answers ``not_ours``
  and names the holder (``true_carrier``, and the virtual operator reselling it, if any). A number already
  shut down or blocked is answered ``done`` with the time it first took effect.
- intercept (拦截): the carrier stops calls from the number on its own switches, whoever holds it, and says
  who does.
- a protected number (an emergency or government line) is refused by every carrier.
"""

from __future__ import annotations

from datetime import datetime

from fanzha.telecom.carriers import messages as m
from sim.carriers.registry import Registry

_STATE = {"shutdown": "shut_down", "block": "blocked"}


def act(registry: Registry, carrier: str, request_id: str, body: m.CarrierAction,
        now: datetime) -> m.CarrierActionResult:
    holder = registry.holder(body.number)

    def result(status: str, **extra: object) -> m.CarrierActionResult:
        return m.CarrierActionResult.model_validate({"request_id": request_id, "number": body.number,
                                                     "status": status, **extra})

    if holder.protected:
        return result("refused", reason="protected number: an emergency or government line is never cut off",
                      true_carrier=holder.carrier)
    if body.action == "intercept":
        if carrier not in holder.intercepted_by:
            holder.intercepted_by.append(carrier)
            holder.history.append({"at": now.isoformat(), "event": "intercepted", "by": carrier,
                                   "case": body.case_number, "request": request_id})
        return result("done", effective_at=now, true_carrier=holder.carrier,
                      virtual_operator=holder.virtual_operator)
    if holder.carrier != carrier:
        reason = (f"number held by {holder.carrier}" if holder.carrier else
                  "no domestic network holds this number")
        return result("not_ours", true_carrier=holder.carrier, virtual_operator=holder.virtual_operator,
                      reason=reason)
    if holder.state == "active":
        holder.state, holder.effective_at = _STATE[body.action], now
        holder.history.append({"at": now.isoformat(), "event": holder.state, "by": carrier,
                               "case": body.case_number, "request": request_id})
    return result("done", effective_at=holder.effective_at or now, virtual_operator=holder.virtual_operator)
