"""A simulated city's fraud: victims paying mule networks, and the criminals' moves, from one seed.

`generate(seed, cases)` is deterministic: the same seed and parameters give the same accounts, amounts and
times. Times are offsets from the scenario's start (`Scenario.at` turns one into an aware UTC datetime), so
the same city plays in the race (simulated time) and against the running simulated banks (real time).

The city has gangs. Each gang runs one mule network of one shape:

- ``chain``: entry -> m2 -> m3 ... (3 to 5 accounts), cashed out at the end;
- ``fan_out``: entry -> 3 to 6 accounts, some of them one layer further, each cashed out;
- ``fan_in``: 2 to 4 entries -> one collector (-> one more account), cashed out;
- ``gather_scatter``: 2 to 4 entries -> collector -> 3 to 6 accounts (-> one more layer), cashed out.

One to four victims per gang pay one to three transfers each into the gang's entry accounts, so mules are
shared by several victims. Some mules are rented cards holding their own money, with some income and some
small spending of their own during the day. Money moves on a few minutes after it arrives (层层分解); an
intermediate mule sometimes withdraws a slice on the way. Terminal accounts cash out through one channel
(ATM, counter, POS, abroad, payment platform) in chunks of the channel's size, the first one minutes to
hours after the money arrived; a large sum, split over several cards, is out within about two hours at the
fastest (DOMAIN.md §2).

Every move is scheduled with the amount the criminals intend; a mule's last forward (at the end of a
network: its last withdrawal) takes everything available instead (criminals empty the card, the holder's
own money included). When the city plays a move, a hold makes it take only what is available (see
`sim.city.world`).
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Literal, TypeVar

from fanzha.banking.bins import DEFAULT_STATIONED_BANKS, lookup_card
from sim.banks.seed import card_number, holder_name, masked_id

AccountKey = tuple[str, str]
Shape = Literal["chain", "fan_out", "fan_in", "gather_scatter"]
SHAPES: tuple[Shape, ...] = ("chain", "fan_out", "fan_in", "gather_scatter")
MoveKind = Literal["payment", "forward", "cashout", "income", "spend"]
CASH_OUT = ("atm", "counter", "pos", "abroad", "platform")
CENT = Decimal("0.01")
ZERO = Decimal(0)
T = TypeVar("T")
DEFAULT_START = datetime(2026, 11, 25, 0, 0, tzinfo=UTC)  # 08:00 in Shanghai

# Where mule and victim cards are: mostly the eleven stationed banks, some others of the BIN table.
OTHER_BANKS: tuple[str, ...] = ("SHBANK", "CEB", "HXBANK", "SPABANK", "BJBANK", "NBBANK", "GDB", "SHRCB")

FRAUD_TYPES: tuple[str, ...] = (
    "刷单返利", "冒充电商物流客服", "虚假网络投资理财", "贷款、代办信用卡", "冒充公检法及政府机关", "冒充领导、熟人",
    "网络婚恋、交友",
)


def minutes(value: float) -> timedelta:
    return timedelta(seconds=round(value * 60))


@dataclass(frozen=True, slots=True)
class CityParams:
    """How victims and criminals behave; the defaults are the city `bench/race.py` races (module docstring)."""

    day: timedelta = timedelta(hours=12)  # gangs start their work within this span of the start
    report_delay_min: tuple[float, float] = (5, 30)  # last payment -> report reaches the center (uniform)
    victim_spread_min: tuple[float, float] = (0, 150)  # a gang's victims pay this long after its start
    payment_gap_min: tuple[float, float] = (3, 20)  # between one victim's successive payments
    victims_per_gang: tuple[tuple[int, float], ...] = ((1, 0.45), (2, 0.3), (3, 0.15), (4, 0.1))
    payments_per_victim: tuple[tuple[int, float], ...] = ((1, 0.6), (2, 0.3), (3, 0.1))
    loss_median: Decimal = Decimal(40000)  # a victim's total loss, log-normal around this median
    loss_sigma: float = 1.0
    loss_bounds: tuple[Decimal, Decimal] = (Decimal(2000), Decimal(3_000_000))
    hop_delay_min: tuple[float, float] = (1, 10)  # arrival -> forwarded to the next layer
    skim_chance: float = 0.2  # an intermediate mule withdraws a slice on the way
    skim_share: tuple[float, float] = (0.05, 0.2)
    # First cash-out after arrival: (weight, low minutes, high minutes) - minutes to hours.
    first_cashout: tuple[tuple[float, float, float], ...] = ((0.2, 3, 20), (0.5, 20, 90), (0.3, 90, 240))
    rented_card_chance: float = 0.35  # a mule that is someone's own card with their money on it
    own_money: tuple[Decimal, Decimal] = (Decimal(500), Decimal(30000))
    shape_weights: tuple[tuple[Shape, float], ...] = (
        ("chain", 0.3), ("fan_out", 0.25), ("fan_in", 0.2), ("gather_scatter", 0.25))
    stationed_share: float = 0.85


# Cash-out channels: (chunk low, chunk high, rounding unit, gap low minutes, gap high minutes).
CHANNELS: dict[str, tuple[Decimal, Decimal, Decimal, float, float]] = {
    "atm": (Decimal(2000), Decimal(5000), Decimal(100), 1, 4),
    "counter": (Decimal(20000), Decimal(50000), Decimal(100), 10, 30),
    "pos": (Decimal(5000), Decimal(30000), Decimal(1), 3, 15),
    "abroad": (Decimal(50000), Decimal(300000), Decimal(1), 10, 30),
    "platform": (Decimal(2000), Decimal(20000), Decimal(1), 2, 10),
}
CHANNEL_WEIGHTS: tuple[tuple[str, float], ...] = (
    ("atm", 0.3), ("counter", 0.15), ("pos", 0.15), ("abroad", 0.1), ("platform", 0.3))


@dataclass(frozen=True, slots=True)
class CityAccount:
    bank: str
    number: str
    holder: str
    id_masked: str
    role: Literal["victim", "mule"]
    own: Decimal  # opening balance (the holder's own money)
    gang: int | None = None
    layer: int = 0  # 1 for a gang's entry accounts, 0 for victims

    @property
    def key(self) -> AccountKey:
        return (self.bank, self.number)


@dataclass(frozen=True, slots=True)
class Move:
    """One scheduled money movement. `source` None: money from outside; `target` None: cash-out."""

    at: timedelta
    seq: int
    kind: MoveKind
    source: AccountKey | None
    target: AccountKey | None
    amount: Decimal
    channel: str = "transfer"
    case_id: str | None = None  # the victim's case, for a payment
    sweep: bool = False  # take everything available (`amount` is what the criminals expect to find)


@dataclass(frozen=True, slots=True)
class Case:
    case_id: str
    gang: int
    victim_name: str
    victim_account: AccountKey
    fraud_type: str
    scam_phone: str
    payments: tuple[Move, ...]  # kind "payment", oldest first
    report_at: timedelta

    @property
    def stolen(self) -> Decimal:
        return sum((p.amount for p in self.payments), ZERO)

    @property
    def paid_at(self) -> timedelta:
        return self.payments[0].at


@dataclass(frozen=True, slots=True)
class Gang:
    gang_id: int
    shape: Shape
    entries: tuple[AccountKey, ...]
    edges: tuple[tuple[AccountKey, AccountKey], ...]
    terminals: tuple[AccountKey, ...]


@dataclass(frozen=True)
class Scenario:
    seed: int
    params: CityParams
    start: datetime
    accounts: tuple[CityAccount, ...]
    gangs: tuple[Gang, ...]
    cases: tuple[Case, ...]
    moves: tuple[Move, ...]  # every payment and criminal move, by (at, seq)
    by_key: dict[AccountKey, CityAccount] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_key", {a.key: a for a in self.accounts})

    def at(self, offset: timedelta) -> datetime:
        return self.start + offset

    @property
    def end(self) -> timedelta:
        """The last scheduled move."""
        return max((m.at for m in self.moves), default=timedelta(0))

    def stolen(self) -> Decimal:
        return sum((c.stolen for c in self.cases), ZERO)

    def case(self, case_id: str) -> Case:
        for c in self.cases:
            if c.case_id == case_id:
                return c
        raise KeyError(case_id)


# ---- generation ------------------------------------------------------------------------------------------

def _weighted(rnd: random.Random, options: Sequence[tuple[T, float]]) -> T:
    return rnd.choices([o for o, _ in options], weights=[w for _, w in options])[0]


def _round(value: Decimal, unit: Decimal) -> Decimal:
    return (value / unit).to_integral_value() * unit


def split(total: Decimal, weights: Sequence[float], unit: Decimal = CENT) -> list[Decimal]:
    """`total` in `len(weights)` parts proportional to the weights, in `unit`s (largest remainder)."""
    units = int(total / unit)
    rest_cents = total - units * unit
    norm = sum(weights)
    raw = [units * w / norm for w in weights]
    parts = [int(r) for r in raw]
    order = sorted(range(len(weights)), key=lambda i: (-(raw[i] - parts[i]), i))
    for i in order[: units - sum(parts)]:
        parts[i] += 1
    out = [p * unit for p in parts]
    out[0] += rest_cents
    return out


class _Builder:
    def __init__(self, seed: int, params: CityParams) -> None:
        self.rnd = random.Random(seed)
        self.params = params
        self.accounts: dict[AccountKey, CityAccount] = {}
        self.moves: list[Move] = []
        self.seq = itertools.count()
        self.gangs: list[Gang] = []
        self.cases: list[Case] = []
        # Criminal behaviour per mule: successors with weights, or a cash-out channel.
        self.successors: dict[AccountKey, list[tuple[AccountKey, float]]] = {}
        self.channel: dict[AccountKey, str] = {}
        self.skim: dict[AccountKey, float] = {}

    # -- accounts ------------------------------------------------------------------------------------------
    def bank(self) -> str:
        rnd = self.rnd
        if rnd.random() < self.params.stationed_share:
            return rnd.choice(DEFAULT_STATIONED_BANKS)
        return rnd.choice(OTHER_BANKS)

    def open(self, role: Literal["victim", "mule"], own: Decimal, gang: int | None, layer: int) -> AccountKey:
        rnd = self.rnd
        while True:
            bank = self.bank()
            number = card_number(bank, rnd)
            issuer = lookup_card(number)
            if issuer is not None and issuer.bank_code == bank and (bank, number) not in self.accounts:
                break
        account = CityAccount(bank=bank, number=number, holder=holder_name(rnd), id_masked=masked_id(rnd),
                              role=role, own=own, gang=gang, layer=layer)
        self.accounts[account.key] = account
        return account.key

    def mule(self, gang: int, layer: int) -> AccountKey:
        p, rnd = self.params, self.rnd
        rented = rnd.random() < p.rented_card_chance
        low, high = p.own_money
        own = _round(Decimal(str(rnd.uniform(float(low), float(high)))), CENT) if rented \
            else Decimal(rnd.randrange(0, 200))
        key = self.open("mule", own, gang, layer)
        if rented:
            self.own_activity(key)
        return key

    def own_activity(self, key: AccountKey) -> None:
        """A rented card's holder still lives on it: some income and some small spending during the day."""
        rnd, day = self.rnd, self.params.day + timedelta(hours=6)
        for _ in range(rnd.randrange(0, 3)):
            at = timedelta(seconds=rnd.randrange(int(day.total_seconds())))
            amount = Decimal(rnd.randrange(200, 8000))
            self.add(Move(at, 0, "income", None, key, amount, "counter"))
        for _ in range(rnd.randrange(0, 4)):
            at = timedelta(seconds=rnd.randrange(int(day.total_seconds())))
            amount = _round(Decimal(str(rnd.uniform(20, 800))), CENT)
            self.add(Move(at, 0, "spend", key, None, amount, "pos"))

    def add(self, move: Move) -> Move:
        move = Move(move.at, next(self.seq), move.kind, move.source, move.target, move.amount, move.channel,
                    move.case_id, move.sweep)
        self.moves.append(move)
        return move

    # -- networks ------------------------------------------------------------------------------------------
    def network(self, gang: int) -> Gang:
        rnd = self.rnd
        shape = _weighted(rnd, self.params.shape_weights)
        edges: list[tuple[AccountKey, AccountKey]] = []

        def link(a: AccountKey, b: AccountKey) -> None:
            edges.append((a, b))
            self.successors.setdefault(a, []).append((b, rnd.uniform(0.5, 1.5)))

        def tail(start: AccountKey, layer: int, extra: int) -> None:
            node = start
            for i in range(extra):
                nxt = self.mule(gang, layer + i + 1)
                link(node, nxt)
                node = nxt

        if shape == "chain":
            entries = [self.mule(gang, 1)]
            tail(entries[0], 1, rnd.randrange(2, 5))
        elif shape == "fan_out":
            entries = [self.mule(gang, 1)]
            for _ in range(rnd.randrange(3, 7)):
                branch = self.mule(gang, 2)
                link(entries[0], branch)
                tail(branch, 2, rnd.choice((0, 0, 1)))
        else:
            entries = [self.mule(gang, 1) for _ in range(rnd.randrange(2, 5))]
            collector = self.mule(gang, 2)
            for entry in entries:
                link(entry, collector)
            if shape == "fan_in":
                tail(collector, 2, rnd.choice((0, 1, 1)))
            else:
                for _ in range(rnd.randrange(3, 7)):
                    branch = self.mule(gang, 3)
                    link(collector, branch)
                    tail(branch, 3, rnd.choice((0, 0, 1)))
        nodes = {*entries, *(a for a, _ in edges), *(b for _, b in edges)}
        terminals = sorted(n for n in nodes if n not in self.successors)
        for node in sorted(nodes):
            if node in self.successors:
                if rnd.random() < self.params.skim_chance:
                    self.skim[node] = rnd.uniform(*self.params.skim_share)
            else:
                self.channel[node] = _weighted(rnd, CHANNEL_WEIGHTS)
        g = Gang(gang, shape, tuple(entries), tuple(edges), tuple(terminals))
        self.gangs.append(g)
        return g

    def victims(self, gang: Gang, start: timedelta, limit: int) -> list[tuple[AccountKey, timedelta, Decimal]]:
        """The gang's victims (at most `limit`) and their payments; returns the arrivals (payee, time, amount)."""
        p, rnd = self.params, self.rnd
        arrivals: list[tuple[AccountKey, timedelta, Decimal]] = []
        first_case = len(self.cases) + 1
        for i in range(min(limit, _weighted(rnd, p.victims_per_gang))):
            loss = Decimal(str(rnd.lognormvariate(0, p.loss_sigma))) * p.loss_median
            loss = min(max(_round(loss, Decimal(100)), p.loss_bounds[0]), p.loss_bounds[1])
            count = _weighted(rnd, p.payments_per_victim)
            amounts = split(loss, [rnd.uniform(0.5, 1.5) for _ in range(count)], Decimal(100))
            balance = loss + Decimal(rnd.randrange(1000, 100000))
            victim = self.open("victim", balance, None, 0)
            at = start + minutes(rnd.uniform(*p.victim_spread_min))
            case_id = f"C{first_case + i:04d}"
            payments: list[Move] = []
            for amount in amounts:
                payee = rnd.choice(gang.entries)
                payments.append(self.add(Move(at, 0, "payment", victim, payee, amount, "transfer", case_id)))
                arrivals.append((payee, at, amount))
                at += minutes(rnd.uniform(*p.payment_gap_min))
            report_at = payments[-1].at + minutes(rnd.uniform(*p.report_delay_min))
            phone = f"+86{rnd.choice(('170', '171', '165', '167', '162'))}{rnd.randrange(10**8):08d}"
            self.cases.append(Case(case_id=case_id, gang=gang.gang_id, victim_name=holder_name(rnd),
                                   victim_account=victim, fraud_type=rnd.choice(FRAUD_TYPES), scam_phone=phone,
                                   payments=tuple(payments), report_at=report_at))
        return arrivals

    def play(self, arrivals: list[tuple[AccountKey, timedelta, Decimal]]) -> None:
        """Schedule the criminals' moves for money arriving, in time order (each forward is an arrival)."""
        rnd, p = self.rnd, self.params
        heap = [(at, i, key, amount) for i, (key, at, amount) in enumerate(arrivals)]
        heapq.heapify(heap)
        counter = itertools.count(len(heap))
        while heap:
            at, _, key, amount = heapq.heappop(heap)
            if key in self.successors:
                moved_at = at + minutes(rnd.uniform(*p.hop_delay_min))
                share = self.skim.get(key)
                if share is not None and amount >= 1000:
                    slice_ = _round(amount * Decimal(str(share)), Decimal(100))
                    if slice_ > 0:
                        self.add(Move(moved_at + minutes(rnd.uniform(0, 5)), 0, "cashout", key, None, slice_,
                                      rnd.choice(("atm", "platform"))))
                        amount -= slice_
                targets = self.successors[key]
                parts = split(amount, [w for _, w in targets], Decimal(1) if amount >= 1000 else CENT)
                when = moved_at
                for (target, _), part in zip(targets, parts, strict=True):
                    if part <= 0:
                        continue
                    self.add(Move(when, 0, "forward", key, target, part))
                    heapq.heappush(heap, (when, next(counter), target, part))
                    when += minutes(rnd.uniform(0.2, 2))
            else:
                self.cash_out(key, at, amount)

    def cash_out(self, key: AccountKey, arrived: timedelta, amount: Decimal) -> None:
        rnd, p = self.rnd, self.params
        channel = self.channel[key]
        low, high, unit, gap_low, gap_high = CHANNELS[channel]
        chunks: list[Decimal] = []
        left = amount
        while left > 0:
            chunk = min(left, max(unit, _round(Decimal(str(rnd.uniform(float(low), float(high)))), unit)))
            if left - chunk < unit:
                chunk = left
            chunks.append(chunk)
            left -= chunk
        _, lo, hi = _weighted(rnd, [((w, lo, hi), w) for w, lo, hi in p.first_cashout])
        at = arrived + minutes(rnd.uniform(lo, hi))
        for i, chunk in enumerate(chunks):
            if i:
                at += minutes(rnd.uniform(gap_low, gap_high))
            self.add(Move(at, 0, "cashout", key, None, chunk, channel))

    def empty_cards(self) -> None:
        """Each mule's last forward (or, at the end of a network, its last withdrawal) takes all that is left."""
        last: dict[AccountKey, int] = {}
        for i, move in enumerate(self.moves):
            if move.source is None or move.kind not in ("forward", "cashout"):
                continue
            wanted = "forward" if move.source in self.successors else "cashout"
            if move.kind == wanted and (move.source not in last
                                        or (move.at, move.seq) > (self.moves[last[move.source]].at,
                                                                  self.moves[last[move.source]].seq)):
                last[move.source] = i
        for i in last.values():
            m = self.moves[i]
            self.moves[i] = Move(m.at, m.seq, m.kind, m.source, m.target, m.amount, m.channel, m.case_id, True)


def generate(seed: int, cases: int, params: CityParams | None = None, start: datetime = DEFAULT_START) -> Scenario:
    """A city with exactly `cases` victims (the last gang may have fewer than it drew)."""
    if cases < 1:
        raise ValueError("a city needs at least one case")
    if start.tzinfo is None:
        raise ValueError("the start time must be aware")
    params = params or CityParams()
    b = _Builder(seed, params)
    gang_id = 0
    while len(b.cases) < cases:
        gang_id += 1
        gang = b.network(gang_id)
        gang_start = timedelta(seconds=b.rnd.randrange(int(params.day.total_seconds())))
        b.play(b.victims(gang, gang_start, cases - len(b.cases)))
    b.empty_cards()
    used = {k for m in b.moves for k in (m.source, m.target) if k is not None} | {c.victim_account for c in b.cases}
    accounts = tuple(a for a in b.accounts.values() if a.key in used or a.role == "mule")
    moves = tuple(sorted(b.moves, key=lambda m: (m.at, m.seq)))
    return Scenario(seed=seed, params=params, start=start.astimezone(UTC), accounts=accounts, gangs=tuple(b.gangs),
                    cases=tuple(b.cases), moves=moves)

