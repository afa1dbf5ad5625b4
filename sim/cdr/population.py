"""The simulated subscribers of one carrier region (Sichuan) and the way each kind of subscriber calls.

Every number is "served" by the simulated carrier: its CDRs are the rows the generator writes. Counterparts are
other served numbers or numbers outside the carrier (mobiles elsewhere, Chengdu landlines, a few foreign numbers).

Kinds (what a detector must tell apart, DOMAIN.md §5):

- ordinary: a few calls a day, half outgoing, to a small circle called again and again; the whole period; home
  city (rare trips), home and work counties; one handset (5 % two);
- fraud (planted): 40-120 calls a day, 95 % outgoing, nearly all to distinct people, a few engaged victims called
  back at length; lives 1-7 days; 3-8 cities and many cells; 2-6 handsets; 30 % on virtual-operator ranges;
- courier: 30-60 a day, 75 % outgoing, customers mostly once and a depot; the whole period; one city, many cells;
  one handset;
- rider (delivery): 40-80 a day, 85 % outgoing, customers once and a station; otherwise as couriers;
- call_centre: 150-400 a day, 95 % outgoing, customers once; the whole period; one site; one handset.

40 % of the fraud numbers route most outgoing calls through the international gateway, showing an official number
(110, 96110, 12381, a 95xxx bank line, a court line) or somebody else's domestic number.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]

ORDINARY, FRAUD, COURIER, RIDER, CALL_CENTRE = range(5)
KIND_NAMES = ("ordinary", "fraud", "courier", "rider", "call_centre")
PLANTED_KINDS = (FRAUD, COURIER, RIDER, CALL_CENTRE)

CARRIERS = ("China Mobile", "China Unicom", "China Telecom")
MNC = ("00", "01", "11")  # mobile network codes, as in a cell's CGI 460-MNC-LAC-CI
# Three-digit mobile prefixes and the carrier that serves them (170 and 171 are virtual operators' ranges,
# carried by China Telecom and China Unicom).
PREFIXES = np.array([134, 135, 136, 137, 138, 139, 150, 151, 152, 157, 158, 159, 182, 183, 184, 187, 188, 198,
                     130, 131, 132, 155, 156, 185, 186, 171, 133, 153, 180, 181, 189, 199, 170], dtype=np.int64)
PREFIX_CARRIER = np.array([0] * 18 + [1] * 8 + [2] * 7, dtype=np.int64)
VIRTUAL_PREFIXES = np.array([25, 32], dtype=np.int64)  # positions of 171 and 170 in PREFIXES

# Sichuan's cities and prefectures with their division codes and rough population weights.
CITIES = (("成都市", 5101, 21.0), ("自贡市", 5103, 2.5), ("攀枝花市", 5104, 1.2), ("泸州市", 5105, 4.3),
          ("德阳市", 5106, 3.5), ("绵阳市", 5107, 4.9), ("广元市", 5108, 2.3), ("遂宁市", 5109, 2.8),
          ("内江市", 5110, 3.1), ("乐山市", 5111, 3.2), ("南充市", 5113, 5.6), ("眉山市", 5114, 3.0),
          ("宜宾市", 5115, 4.6), ("广安市", 5116, 3.3), ("达州市", 5117, 5.4), ("雅安市", 5118, 1.4),
          ("巴中市", 5119, 2.7), ("资阳市", 5120, 2.3), ("阿坝藏族羌族自治州", 5132, 0.8),
          ("甘孜藏族自治州", 5133, 1.1), ("凉山彝族自治州", 5134, 4.9))
CITY_NAMES = tuple(name for name, _, _ in CITIES)
CITY_CODES = np.array([code for _, code, _ in CITIES], dtype=np.int64)
CITY_WEIGHTS = np.array([w for _, _, w in CITIES]) / sum(w for _, _, w in CITIES)
COUNTIES_PER_CITY = 9  # county codes CITY01..CITY09

# Type allocation codes of common handsets (the first 8 IMEI digits).
TACS = np.array([86891204, 86769903, 35391110, 86458104, 86012305, 35320711, 86633605, 86401506, 86975804,
                 35689910, 86222207, 86510408], dtype=np.int64)

HOURS = np.arange(24)


def _hour_weights(peaks: list[tuple[int, int, float]], floor: float) -> F64:
    weights = np.full(24, floor)
    for start, end, level in peaks:
        weights[start:end] = level
    return np.asarray(weights / weights.sum(), dtype=np.float64)


HOUR_WEIGHTS = np.stack([
    _hour_weights([(7, 9, 3), (9, 12, 6), (12, 14, 5), (14, 19, 6), (19, 22, 7), (22, 24, 2)], 0.3),  # ordinary
    _hour_weights([(9, 12, 9), (12, 14, 4), (14, 18, 9), (18, 21, 4), (21, 24, 1.5)], 0.15),  # fraud shifts
    _hour_weights([(8, 12, 8), (12, 14, 5), (14, 19, 8), (19, 21, 3)], 0.1),  # courier
    _hour_weights([(10, 13, 9), (13, 17, 3), (17, 20, 9), (20, 22, 3)], 0.2),  # rider: meal times
    _hour_weights([(9, 12, 8), (12, 13, 4), (13, 21, 8)], 0.05),  # call centre
])


@dataclass(frozen=True, slots=True)
class Kind:
    """How one kind of subscriber calls (ranges are drawn once per number)."""

    per_day: tuple[float, float]  # calls a day, uniform range (ordinary: lognormal median, sigma)
    out_share: float
    fresh_share: float  # share of calls to a counterpart outside the number's circle
    contacts: tuple[int, int]  # size of the circle of repeated counterparts
    cities: tuple[int, int]
    cells: tuple[int, int]
    imeis: tuple[int, int]


KINDS = {
    ORDINARY: Kind((3.0, 0.7), 0.5, 0.12, (8, 80), (1, 1), (2, 6), (1, 1)),
    FRAUD: Kind((40.0, 120.0), 0.95, 0.9, (5, 20), (3, 8), (15, 60), (2, 6)),
    COURIER: Kind((30.0, 60.0), 0.75, 0.85, (3, 8), (1, 1), (20, 60), (1, 1)),
    RIDER: Kind((40.0, 80.0), 0.85, 0.9, (3, 8), (1, 1), (20, 60), (1, 1)),
    CALL_CENTRE: Kind((150.0, 400.0), 0.95, 0.97, (5, 20), (1, 1), (1, 2), (1, 1)),
}

OFFICIAL_DISPLAYS = ("110", "96110", "12381", "95588", "95533", "95599", "95555", "95566", "12368", "12389",
                     "02887654110")


@dataclass(frozen=True, slots=True)
class Population:
    """Served numbers (index i) with their drawn traits, and the counterparts outside the carrier."""

    numbers: I64  # E.164 digits (no '+'), served numbers first, then outside numbers
    served: int
    foreign_from: int  # numbers[foreign_from:] are foreign
    kind: I64
    carrier: I64
    first_day: I64
    life_days: I64
    weight: F64  # expected calls over the period (relative)
    out_share: F64
    fresh_share: F64
    contacts: I64
    home_city: I64
    home_county: I64
    cities: I64
    cells: I64
    imeis: I64
    tac: I64
    gateway: npt.NDArray[np.bool_]

    def planted(self) -> list[tuple[int, str]]:
        """(E.164 digits, kind) of every planted number: fraud and the benign heavy callers."""
        idx = np.flatnonzero(self.kind != ORDINARY)
        return [(int(self.numbers[i]), KIND_NAMES[int(self.kind[i])]) for i in idx]


def mix(*parts: I64 | int) -> I64:
    """A deterministic 64-bit mix (splitmix64 finaliser) of integer arrays: a hash usable as a random id."""
    acc = np.zeros(1, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for part in parts:
            acc = (acc ^ np.asarray(part).astype(np.uint64)) * np.uint64(0x9E3779B97F4A7C15)
            acc ^= acc >> np.uint64(31)
            acc = acc * np.uint64(0xBF58476D1CE4E5B9)
            acc ^= acc >> np.uint64(29)
    return np.asarray(acc >> np.uint64(1), dtype=np.int64)


def _unique_numbers(rng: np.random.Generator, served: int, outside: int, fraud_idx: I64) -> tuple[I64, int]:
    """Distinct E.164 numbers: served mobiles (fraud ones often on virtual-operator ranges), then outside ones."""
    total = served + outside
    prefix = rng.integers(0, len(PREFIXES), total)
    virtual = fraud_idx[rng.random(len(fraud_idx)) < 0.3]
    prefix[virtual] = VIRTUAL_PREFIXES[rng.integers(0, 2, len(virtual))]
    numbers = 86 * 10**10 * 10 + PREFIXES[prefix] * 10**8 + rng.integers(0, 10**8, total)
    n_land = outside // 5
    n_foreign = max(1, outside // 50) if outside else 0
    land_from = total - n_land - n_foreign
    numbers[land_from:total - n_foreign] = 8628 * 10**8 + rng.integers(2 * 10**7, 9 * 10**7, n_land)  # Chengdu
    foreign = rng.choice(np.array([852 * 10**8, 853 * 10**8, 1 * 10**10, 44 * 10**10, 855 * 10**8]), n_foreign)
    numbers[total - n_foreign:] = foreign + rng.integers(10**7, 10**8 - 1, n_foreign)
    while True:  # redraw the rare duplicates among mobiles until every number is distinct
        _, first = np.unique(numbers, return_index=True)
        dup = np.setdiff1d(np.arange(total), first)
        if len(dup) == 0:
            return numbers, total - n_foreign
        numbers[dup] += rng.integers(1, 1000, len(dup))


def build(rng: np.random.Generator, *, numbers: int, fraud: int, heavy: int, days: int,
          outside: int | None = None) -> Population:
    """Draw `numbers` served subscribers: `fraud` planted fraud numbers, `heavy` benign heavy callers, the rest
    ordinary; and the numbers outside the carrier they call (4 per served number unless given)."""
    if fraud + heavy > numbers:
        raise ValueError(f"--fraud + heavy callers ({fraud + heavy}) exceed --numbers ({numbers})")
    outside = 4 * numbers if outside is None else outside
    kind = np.full(numbers, ORDINARY, dtype=np.int64)
    order = rng.permutation(numbers)
    kind[order[:fraud]] = FRAUD
    share = np.arange(heavy) / max(heavy, 1)  # 40 % couriers, 40 % delivery riders, 20 % call centres
    kind[order[fraud:fraud + heavy]] = np.select([share < 0.4, share < 0.8], [COURIER, RIDER], CALL_CENTRE)
    all_numbers, foreign_from = _unique_numbers(rng, numbers, outside, order[:fraud])
    carrier_of_prefix = np.zeros(1000, dtype=np.int64)
    carrier_of_prefix[PREFIXES] = PREFIX_CARRIER
    carrier = carrier_of_prefix[(all_numbers[:numbers] // 10**8) % 1000]

    def draw(pick: str) -> I64:
        out = np.empty(numbers, dtype=np.int64)
        for code, spec in KINDS.items():
            mask = kind == code
            low, high = getattr(spec, pick)
            out[mask] = rng.integers(low, high + 1, int(mask.sum()))
        return out

    first_day = np.zeros(numbers, dtype=np.int64)
    life = np.full(numbers, days, dtype=np.int64)
    is_fraud = kind == FRAUD
    life[is_fraud] = np.minimum(rng.integers(1, 8, int(is_fraud.sum())), days)
    first_day[is_fraud] = rng.integers(0, days - life[is_fraud] + 1)
    per_day = np.empty(numbers)
    for code, spec in KINDS.items():
        mask = kind == code
        a, b = spec.per_day
        per_day[mask] = (rng.lognormal(np.log(a), b, int(mask.sum())) if code == ORDINARY
                         else rng.uniform(a, b, int(mask.sum())))
    imeis = draw("imeis")
    ordinary = kind == ORDINARY
    imeis[ordinary] += rng.random(int(ordinary.sum())) < 0.05
    home_city = rng.choice(len(CITIES), numbers, p=CITY_WEIGHTS)
    return Population(
        numbers=all_numbers, served=numbers, foreign_from=foreign_from,
        kind=kind, carrier=carrier, first_day=first_day, life_days=life, weight=per_day * life,
        out_share=np.array([KINDS[k].out_share for k in range(5)])[kind],
        fresh_share=np.array([KINDS[k].fresh_share for k in range(5)])[kind],
        contacts=draw("contacts"), home_city=home_city, home_county=rng.integers(0, COUNTIES_PER_CITY, numbers),
        cities=draw("cities"), cells=draw("cells"), imeis=imeis, tac=TACS[rng.integers(0, len(TACS), numbers)],
        gateway=is_fraud & (rng.random(numbers) < 0.4),
    )
