"""The money-flow graph's layout: a small layered drawing, computed on the server, drawn as SVG by a template.

Columns go left to right the way the money went: the victims' credits, then accounts by depth (the account
that received a victim's money is depth 1), then the cash-out sinks, one per channel (ATM, counter, POS,
abroad, payment platform, or "left the banks"). An edge that skips columns gets a waypoint in each column it
crosses, so it runs between the boxes instead of through them (the usual layered-drawing "dummy nodes").

Steps: columns -> order inside each column (barycentre sweeps, keeping the order with fewest crossings) ->
vertical positions (each box as close as it can get to the middle of its neighbours, boxes never overlap:
least squares under order constraints, solved exactly by pool-adjacent-violators) -> ports, paths and labels.

Input is plain data: one currency of :func:`fanzha.tracing.views.trace_view` and the victims' credits.
Output is in SVG user units at 1 unit = 1 CSS pixel: the graph is drawn at its natural size and scrolls,
so text is never scaled down past legibility. Same input, same drawing (ties are broken by id).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import pairwise
from typing import Any, Literal

from fanzha.money import minor_units
from fanzha.web.templating import local_time

NodeKind = Literal["victim", "account", "external", "sink"]
EdgeKind = Literal["credit", "transfer", "cash_out", "unfollowed"]
ColumnKind = Literal["victims", "depth", "sinks"]

NODE_W, NODE_H = 156.0, 80.0  # an account: bank, account number, status, money held
VICTIM_W, VICTIM_H = 120.0, 62.0  # a victim's case number and the amount paid in
SINK_W, SINK_H = 100.0, 50.0  # a cash-out channel and what was lost through it
WAYPOINT_H = 10.0  # the room a passing edge takes in a column it crosses
# Between columns, where the edge labels sit: as wide as the widest label there needs, at least GAP_MIN;
# a gap no label uses (edges only pass through it) is GAP_BARE.
GAP_MIN, GAP_BARE, GAP_PAD = 64.0, 44.0, 6.0
GAP_Y = 22.0
MARGIN = 8.0
HEAD_H = 30.0  # column captions
LABEL_H = 31.0  # an edge label: time, amount
LABEL_PAD = 3.0
BACK_DIP = 44.0  # how far below the boxes a backward edge (money sent back up the chain) loops
SWEEPS = 8
PLACE_ROUNDS = 6
# Character advance in em, for label boxes: the monospace face the labels use is 0.6 em wide.
MONO_EM = 0.6
TIME_PX, AMOUNT_PX = 11.0, 12.0

STATUS_RANK = {"holding": 0, "pending": 1, "stopped": 2, "frozen": 3, "cashed_out": 4, "clean": 5}
CASH_OUT_SINKS = ("atm", "counter", "pos", "abroad", "platform", "transfer")


@dataclass(frozen=True, slots=True)
class Credit:
    """A victim's transfer into the first account, as the trace took it (the bank's leg or the report's)."""

    victim: str
    to: str  # account id "BANK/ACCOUNT"
    amount: str
    at: str | None
    txn_id: str


@dataclass(frozen=True, slots=True)
class Box:
    id: str
    kind: NodeKind
    column: int
    x: float
    y: float
    w: float
    h: float
    data: Mapping[str, Any]

    @property
    def cx(self) -> float:
        return self.x + self.w / 2

    @property
    def cy(self) -> float:
        return self.y + self.h / 2


@dataclass(frozen=True, slots=True)
class Edge:
    source: str
    target: str
    kind: EdgeKind
    path: str
    width: float
    back: bool
    count: int
    first_at: str | None
    attributed: Decimal  # victim money carried (the label)
    amount: Decimal  # what the transactions moved in all (the tooltip)
    time_text: str  # "09:40", or "11-25 09:40" when the graph spans days (Shanghai); "×3" for 3 transfers
    amount_text: str
    label_x: float  # centre of the label
    label_y: float
    label_w: float
    txn_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Column:
    index: int
    kind: ColumnKind
    depth: int  # accounts' depth for "depth" columns, else 0
    x: float
    w: float

    @property
    def cx(self) -> float:
        return self.x + self.w / 2


@dataclass(frozen=True)
class Layout:
    currency: str
    width: float
    height: float
    columns: tuple[Column, ...]
    nodes: tuple[Box, ...]
    edges: tuple[Edge, ...]
    day: str | None = None  # the one Shanghai date of every transfer drawn (labels then show only the time)

    def node(self, node_id: str) -> Box:
        return next(n for n in self.nodes if n.id == node_id)


def plain_amount(value: Decimal, currency: str) -> str:
    """``40,000.00``: the graph's labels leave the currency to the graph's heading."""
    digits = minor_units(currency)
    return f"{value.quantize(Decimal(1).scaleb(-digits)):,}"


def display_account(account: str, limit: int = 20) -> str:
    """The full number when it fits in a box, else its head and tail (the full number is in the tooltip)."""
    if len(account) <= limit:
        return account
    return f"{account[:8]}…{account[-(limit - 9):]}"


def split_account_id(value: str) -> tuple[str, str]:
    bank, _, account = value.partition("/")
    return bank, account


def short_time(value: str | None, *, with_date: bool = True) -> str:
    """``MM-DD HH:MM`` (or ``HH:MM``) in Shanghai time, cut from the console's ``local_time``."""
    if not value:
        return ""
    return local_time(value)[5:16] if with_date else local_time(value)[11:16]


# ---- building the graph ----------------------------------------------------------------------------------


@dataclass
class _Node:
    id: str
    kind: NodeKind
    column: int
    w: float
    h: float
    data: dict[str, Any]
    y: float = 0.0


@dataclass
class _Raw:
    source: str
    target: str
    kind: EdgeKind
    at: str | None
    attributed: Decimal
    amount: Decimal
    txn_id: str


@dataclass
class _Agg:
    source: str
    target: str
    kind: EdgeKind
    attributed: Decimal = Decimal(0)
    amount: Decimal = Decimal(0)
    times: list[tuple[str, str]] = field(default_factory=list)  # (at, txn_id)

    @property
    def first_at(self) -> str | None:
        stamped = sorted(t for t in self.times if t[0])
        return stamped[0][0] if stamped else None


def _dec(value: Any) -> Decimal:
    return Decimal(str(value)) if value not in (None, "") else Decimal(0)


def _victim_id(victim: str) -> str:
    return f"victim:{victim}"


def _sink_id(channel: str) -> str:
    return f"sink:{channel if channel in CASH_OUT_SINKS else 'transfer'}"


def _graph(view: Mapping[str, Any], credits: Sequence[Credit]) -> tuple[dict[str, _Node], list[_Raw]]:
    currency = str(view.get("currency", ""))
    nodes: dict[str, _Node] = {}
    for victim in view.get("victims", []):
        data = dict(victim, credit_text=plain_amount(_dec(victim.get("credit")), currency))
        nodes[_victim_id(victim["victim"])] = _Node(_victim_id(victim["victim"]), "victim", 0, VICTIM_W, VICTIM_H, data)
    for account in view.get("accounts", []):
        data = dict(account, account_text=display_account(account["account"]),
                    held_text=plain_amount(_dec(account.get("held_total")), currency))
        nodes[account["id"]] = _Node(account["id"], "account", max(1, int(account["depth"])), NODE_W, NODE_H, data)

    raw: list[_Raw] = []
    drawn: set[tuple[str, str]] = set()  # (txn_id, target)

    def add(source: str, target: str, kind: EdgeKind, at: str | None, attributed: Decimal, amount: Decimal,
            txn_id: str) -> None:
        if source == target or source not in nodes:
            return
        raw.append(_Raw(source, target, kind, at, attributed, amount, txn_id))

    def external(account_id: str) -> str:
        node_id = f"ext:{account_id}"
        if node_id not in nodes:
            bank, number = split_account_id(account_id)
            nodes[node_id] = _Node(node_id, "external", 1, NODE_W, NODE_H, {
                "id": account_id, "bank": bank, "account": number, "account_text": display_account(number),
                "reasons": [], "amount": Decimal(0)})
        return node_id

    def sink(channel: str) -> str:
        node_id = _sink_id(channel)
        if node_id not in nodes:
            nodes[node_id] = _Node(node_id, "sink", 0, SINK_W, SINK_H,
                                   {"channel": node_id.removeprefix("sink:"), "amount": Decimal(0)})
        return node_id

    credit_txns = set()
    for credit in credits:
        credit_txns.add(credit.txn_id)
        if credit.to in nodes:
            amount = _dec(credit.amount)
            add(_victim_id(credit.victim), credit.to, "credit", credit.at, amount, amount, credit.txn_id)
            drawn.add((credit.txn_id, credit.to))

    for flow in view.get("flows", []):
        if flow["txn_id"] in credit_txns:
            continue
        attributed = {v: _dec(a) for v, a in flow.get("attributed", {}).items()}
        total = _dec(flow.get("attributed_total")) or sum(attributed.values(), Decimal(0))
        to = flow.get("to")
        kind: EdgeKind
        if to is None:
            target, kind = sink(flow.get("channel") or "transfer"), "cash_out"
        elif to in nodes and nodes[to].kind == "account":
            target, kind = to, "transfer"
        else:
            target, kind = external(to), "unfollowed"
        source = flow.get("from")
        if source in nodes and nodes[source].kind == "account":
            add(source, target, kind, flow.get("at"), total, _dec(flow.get("amount")), flow["txn_id"])
        else:
            # Money from outside the traced accounts that carries victim money: the victims' own credits.
            for victim, share in sorted(attributed.items()):
                if share > 0:
                    add(_victim_id(victim), target, "credit" if kind == "transfer" else kind, flow.get("at"),
                        share, share, flow["txn_id"])
        drawn.add((flow["txn_id"], target))

    # Losses and unfollowed transfers the flows did not already draw (each names its victim's share).
    for loss in view.get("losses", []):
        target = sink(loss.get("channel") or "transfer")
        if (loss["txn_id"], target) not in drawn:
            add(loss["account"], target, "cash_out", loss.get("at"), _dec(loss["amount"]), _dec(loss["amount"]),
                loss["txn_id"])
    late = [x for x in view.get("unfollowed", [])
            if (x["txn_id"], f"ext:{x['to']}" if x.get("to") else _sink_id("transfer")) not in drawn]
    for item in view.get("unfollowed", []):
        if item.get("to") and item["to"] not in nodes:
            node = nodes[external(item["to"])]
            if item.get("reason") and item["reason"] not in node.data["reasons"]:
                node.data["reasons"].append(item["reason"])
            node.data["amount"] += _dec(item["amount"])
    for item in late:
        to = item.get("to")
        if to in nodes and nodes[to].kind == "account":
            continue  # a followed account: the transfer is drawn already, only this victim's part stopped
        target = external(to) if to else sink("transfer")
        add(item["from"], target, "unfollowed" if to else "cash_out", item.get("at"), _dec(item["amount"]),
            _dec(item["amount"]), item["txn_id"])

    # Columns of what the depths did not place: unfollowed targets one right of their payers, sinks last.
    for _ in range(len(nodes)):
        changed = False
        for edge in raw:
            node = nodes[edge.target]
            if node.kind == "external" and node.column <= nodes[edge.source].column:
                node.column = nodes[edge.source].column + 1
                changed = True
        if not changed:
            break
    last = max((n.column for n in nodes.values() if n.kind != "sink"), default=0)
    for node in nodes.values():
        if node.kind == "sink":
            node.column = last + 1
    for edge in raw:
        if edge.kind == "cash_out":
            nodes[edge.target].data["amount"] += edge.attributed
    for node in nodes.values():
        if node.kind in ("sink", "external"):
            node.data["amount_text"] = plain_amount(node.data["amount"], currency)
    return nodes, raw


def _aggregate(raw: Iterable[_Raw]) -> list[_Agg]:
    merged: dict[tuple[str, str, str], _Agg] = {}
    for edge in raw:
        agg = merged.setdefault((edge.source, edge.target, edge.kind), _Agg(edge.source, edge.target, edge.kind))
        agg.attributed += edge.attributed
        agg.amount += edge.amount
        agg.times.append((edge.at or "", edge.txn_id))
    return [merged[k] for k in sorted(merged)]


# ---- order within columns --------------------------------------------------------------------------------


def _crossings(order: list[list[str]], succ: Mapping[str, list[str]]) -> int:
    total = 0
    for c in range(len(order) - 1):
        below = {n: i for i, n in enumerate(order[c + 1])}
        pairs = sorted((i, below[m]) for i, n in enumerate(order[c]) for m in succ.get(n, ()) if m in below)
        for a in range(len(pairs)):
            for b in range(a + 1, len(pairs)):
                if pairs[a][0] < pairs[b][0] and pairs[a][1] > pairs[b][1]:
                    total += 1
    return total


def _order(columns: list[list[str]], pred: Mapping[str, list[str]], succ: Mapping[str, list[str]]) -> list[list[str]]:
    order = [list(col) for col in columns]
    best, best_crossings = [list(col) for col in order], _crossings(order, succ)
    for sweep in range(SWEEPS):
        forward = sweep % 2 == 0
        indices = range(1, len(order)) if forward else range(len(order) - 2, -1, -1)
        for c in indices:
            ref = order[c - 1] if forward else order[c + 1]
            pos = {n: i for i, n in enumerate(ref)}
            scale = len(ref) / max(1, len(order[c]))
            keyed = []
            for i, n in enumerate(order[c]):
                near = [pos[m] for m in (pred if forward else succ).get(n, ()) if m in pos]
                keyed.append((sum(near) / len(near) if near else i * scale, i, n))
            order[c] = [n for _, _, n in sorted(keyed)]
        crossings = _crossings(order, succ)
        if crossings < best_crossings:
            best, best_crossings = [list(col) for col in order], crossings
        if best_crossings == 0:
            break
    return best


# ---- vertical positions ----------------------------------------------------------------------------------


def _place(desired: Sequence[float], heights: Sequence[float], gap: float) -> list[float]:
    """Tops as close as possible (least squares) to ``desired``, in this order, never closer than ``gap``."""
    offsets, run = [], 0.0
    for h in heights:
        offsets.append(run)
        run += h + gap
    blocks: list[list[float]] = []  # [sum, count]
    for d, o in zip(desired, offsets, strict=True):
        blocks.append([d - o, 1.0])
        while len(blocks) > 1 and blocks[-2][0] / blocks[-2][1] > blocks[-1][0] / blocks[-1][1]:
            s, k = blocks.pop()
            blocks[-1][0] += s
            blocks[-1][1] += k
    fitted: list[float] = []
    for s, k in blocks:
        fitted.extend([s / k] * int(k))
    return [z + o for z, o in zip(fitted, offsets, strict=True)]


def _positions(order: list[list[str]], nodes: Mapping[str, _Node], pred: Mapping[str, list[str]],
               succ: Mapping[str, list[str]]) -> None:
    for col in order:
        y = 0.0
        for n in col:
            nodes[n].y = y
            y += nodes[n].h + GAP_Y

    def centre(n: str) -> float:
        return nodes[n].y + nodes[n].h / 2

    def settle(c: int, neighbours: Mapping[str, list[str]]) -> None:
        col = order[c]
        desired = []
        for n in col:
            near = neighbours.get(n, [])
            desired.append(sum(centre(m) for m in near) / len(near) - nodes[n].h / 2 if near else nodes[n].y)
        for n, y in zip(col, _place(desired, [nodes[n].h for n in col], GAP_Y), strict=True):
            nodes[n].y = y

    both = {n: [*pred.get(n, []), *succ.get(n, [])] for n in nodes}
    for _ in range(PLACE_ROUNDS):
        for c in range(1, len(order)):
            settle(c, pred)
        for c in range(len(order) - 2, -1, -1):
            settle(c, succ)
    for c in range(len(order)):
        settle(c, both)


# ---- the drawing -----------------------------------------------------------------------------------------


def _label_width(time_text: str, amount_text: str) -> float:
    return max(len(time_text) * TIME_PX, len(amount_text) * AMOUNT_PX) * MONO_EM + 2 * LABEL_PAD


def _curve(x0: float, y0: float, x1: float, y1: float) -> str:
    mid = (x0 + x1) / 2
    return f"C{mid:.1f},{y0:.1f} {mid:.1f},{y1:.1f} {x1:.1f},{y1:.1f}"


def layout(view: Mapping[str, Any], credits: Sequence[Credit] = ()) -> Layout:
    """Lay out one currency's trace (a :func:`trace_view` dict) for drawing."""
    currency = str(view.get("currency", ""))
    nodes, raw = _graph(view, credits)
    edges = _aggregate(raw)
    columns_count = max((n.column for n in nodes.values()), default=0) + 1

    # Waypoints for edges that skip columns; backward edges are left out of the ordering.
    pred: dict[str, list[str]] = defaultdict(list)
    succ: dict[str, list[str]] = defaultdict(list)
    chains: list[list[str]] = []
    for i, edge in enumerate(edges):
        s, t = nodes[edge.source], nodes[edge.target]
        if t.column <= s.column:
            chains.append([edge.source, edge.target])
            continue
        chain = [edge.source]
        for c in range(s.column + 1, t.column):
            way = f"~{i}:{c}"
            nodes[way] = _Node(way, "account", c, 0.0, WAYPOINT_H, {})
            chain.append(way)
        chain.append(edge.target)
        for a, b in pairwise(chain):
            succ[a].append(b)
            pred[b].append(a)
        chains.append(chain)

    def initial_key(n: _Node) -> tuple[int, str]:
        if n.kind == "victim":
            return (0, "")  # the view lists victims in case order: keep it (stable sort)
        return (1, n.id)

    columns: list[list[str]] = [[] for _ in range(columns_count)]
    for node in sorted(nodes.values(), key=initial_key):
        columns[node.column].append(node.id)
    order = _order(columns, pred, succ)
    _positions(order, nodes, pred, succ)

    # Labels first: their widths decide how far apart the columns are.
    days = {local_time(at)[:10] for edge in edges for at, _ in edge.times if at}
    day = next(iter(days)) if len(days) == 1 else None
    texts = []
    for edge in edges:
        count = len(edge.times)
        time_text = short_time(edge.first_at, with_date=day is None) + (f" ×{count}" if count > 1 else "")
        amount_text = plain_amount(edge.attributed, currency)
        texts.append((time_text, amount_text, _label_width(time_text, amount_text)))
    gaps = [GAP_BARE] * max(0, columns_count - 1)
    for edge, (_, _, label_w) in zip(edges, texts, strict=True):
        s, t = nodes[edge.source], nodes[edge.target]
        if t.column > s.column:
            gaps[s.column] = max(gaps[s.column], GAP_MIN, label_w + 2 * GAP_PAD)

    # Column geometry: each column as wide as its widest box.
    widths = [max((nodes[n].w for n in col), default=0.0) or NODE_W for col in order]
    xs, x = [], MARGIN
    for c, w in enumerate(widths):
        xs.append(x)
        x = round(x + w + (gaps[c] if c < len(gaps) else 0.0), 1)
    width = x + MARGIN
    top = min((nodes[n].y for n in nodes), default=0.0)
    shift = HEAD_H + MARGIN - top
    for node in nodes.values():
        node.y += shift
    boxes = {n.id: Box(n.id, n.kind, n.column, xs[n.column] + (widths[n.column] - n.w) / 2 if n.w else
                       xs[n.column], n.y, n.w or widths[n.column], n.h, n.data) for n in nodes.values()}

    # Ports: the edges leaving (entering) a box spread over its right (left) side, in the order of their
    # other ends, so arrows into one box do not pile up on one point.
    def next_y(chain: list[str], k: int) -> float:
        return boxes[chain[k]].cy

    out_ports: dict[int, float] = {}
    in_ports: dict[int, float] = {}
    leaving: dict[str, list[tuple[float, int]]] = defaultdict(list)
    entering: dict[str, list[tuple[float, int]]] = defaultdict(list)
    for i, chain in enumerate(chains):
        if boxes[chain[-1]].column <= boxes[chain[0]].column:
            continue
        leaving[chain[0]].append((next_y(chain, 1), i))
        entering[chain[-1]].append((next_y(chain, -2), i))
    for ports, sides in ((out_ports, leaving), (in_ports, entering)):
        for node_id, ends in sides.items():
            box = boxes[node_id]
            inner = box.h - 16 if box.h > 30 else box.h
            for k, (_, i) in enumerate(sorted(ends)):
                ports[i] = box.y + (box.h - inner) / 2 + inner * (k + 1) / (len(ends) + 1)

    max_attr = max((e.attributed for e in edges), default=Decimal(1)) or Decimal(1)
    drawn: list[dict[str, Any]] = []
    bottom = max((b.y + b.h for b in boxes.values() if not b.id.startswith("~")), default=HEAD_H)
    back_bottom = bottom
    for i, (edge, chain) in enumerate(zip(edges, chains, strict=True)):
        src, dst = boxes[chain[0]], boxes[chain[-1]]
        back = dst.column <= src.column
        if back:
            low = max(src.y + src.h, dst.y + dst.h) + BACK_DIP
            x0, y0, x1, y1 = src.cx, src.y + src.h, dst.cx + 10, dst.y + dst.h
            path = f"M{x0:.1f},{y0:.1f} C{x0:.1f},{low:.1f} {x1:.1f},{low:.1f} {x1:.1f},{y1:.1f}"
            label_x, label_y = (x0 + x1) / 2, 0.125 * y0 + 0.75 * low + 0.125 * y1
            back_bottom = max(back_bottom, label_y + LABEL_H / 2)
        else:
            points = [(src.x + src.w, out_ports[i])]
            for way in chain[1:-1]:
                passing = boxes[way]
                points += [(passing.x, passing.cy), (passing.x + passing.w, passing.cy)]
            points.append((dst.x, in_ports[i]))
            parts = [f"M{points[0][0]:.1f},{points[0][1]:.1f}"]
            for k in range(1, len(points)):
                (xa, ya), (xb, yb) = points[k - 1], points[k]
                parts.append(f"L{xb:.1f},{yb:.1f}" if k % 2 == 0 else _curve(xa, ya, xb, yb))
            path = " ".join(parts)
            (xa, ya), (xb, yb) = points[0], points[1]
            label_x, label_y = (xa + xb) / 2, (ya + yb) / 2
        count = len(edge.times)
        time_text, amount_text, label_w = texts[i]
        ratio = float(edge.attributed / max_attr) if max_attr else 0.0
        drawn.append({
            "source": edge.source, "target": edge.target, "kind": edge.kind, "path": path,
            "width": round(1.5 + 4.5 * math.sqrt(max(ratio, 0.0)), 2), "back": back, "count": count,
            "first_at": edge.first_at, "attributed": edge.attributed, "amount": edge.amount, "time_text": time_text,
            "amount_text": amount_text, "label_x": label_x, "label_y": label_y,
            "label_w": label_w,
            "txn_ids": tuple(txn for _, txn in sorted(edge.times)),
        })

    # Labels sharing a gap do not overlap: nudged apart as little as possible, in the order of their edges.
    by_gap: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for item in drawn:
        by_gap[round(item["label_x"])].append(item)
    for group in by_gap.values():
        group.sort(key=lambda d: (d["label_y"], d["source"], d["target"]))
        tops = _place([d["label_y"] - LABEL_H / 2 for d in group], [LABEL_H] * len(group), 2.0)
        floor = HEAD_H
        for item, y in zip(group, tops, strict=True):
            item["label_y"] = max(y, floor) + LABEL_H / 2
            floor = item["label_y"] + LABEL_H / 2 + 2.0
    height = max(back_bottom, *(d["label_y"] + LABEL_H / 2 for d in drawn), bottom) + MARGIN if drawn else \
        bottom + MARGIN

    def column_kind(c: int) -> ColumnKind:
        kinds = {nodes[n].kind for n in order[c] if not n.startswith("~")}
        if "victim" in kinds:
            return "victims"
        return "sinks" if kinds == {"sink"} else "depth"

    return Layout(
        currency=currency, width=round(width, 1), height=round(height, 1),
        columns=tuple(Column(c, column_kind(c), c if column_kind(c) == "depth" else 0, xs[c], widths[c])
                      for c in range(columns_count)),
        nodes=tuple(boxes[n] for col in order for n in col if not n.startswith("~")),
        edges=tuple(Edge(**d) for d in drawn), day=day,
    )
