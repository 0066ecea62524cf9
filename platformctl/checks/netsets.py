"""Sets of IPv4 addresses and of connections (protocol x port), as sorted disjoint intervals.

Pure and exact: the connectivity check compares what the analyzer permits with
what the platform needs by set difference, so "wider than needed" is computed,
not guessed. Addresses are IPv4 only: the platform's VPC and service CIDR are
IPv4, and the analyzer prints IPv6 only where a policy names it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final, Self

Interval = tuple[int, int]

MAX_ADDRESS: Final = 2**32 - 1
PORT_MIN: Final = 1
PORT_MAX: Final = 65535
# The protocols a NetworkPolicy can name; everything else (ICMP, ...) is "other".
PORT_PROTOCOLS: Final = ("TCP", "UDP", "SCTP")


def _normalise(intervals: Iterable[Interval]) -> tuple[Interval, ...]:
    """Sorted, disjoint and non-adjacent; empty intervals dropped."""
    out: list[list[int]] = []
    for start, end in sorted(i for i in intervals if i[0] <= i[1]):
        if out and start <= out[-1][1] + 1:
            out[-1][1] = max(out[-1][1], end)
        else:
            out.append([start, end])
    return tuple((s, e) for s, e in out)


@dataclass(frozen=True)
class IntervalSet:
    """A set of integers as sorted disjoint intervals (ports, or IPv4 addresses as ints)."""

    intervals: tuple[Interval, ...] = ()

    @classmethod
    def of(cls, intervals: Iterable[Interval]) -> Self:
        return cls(_normalise(intervals))

    def __bool__(self) -> bool:
        return bool(self.intervals)

    def __contains__(self, value: int) -> bool:
        return any(s <= value <= e for s, e in self.intervals)

    def __or__(self, other: IntervalSet) -> Self:
        return type(self).of(self.intervals + other.intervals)

    def __and__(self, other: IntervalSet) -> Self:
        out = []
        for s1, e1 in self.intervals:
            for s2, e2 in other.intervals:
                if max(s1, s2) <= min(e1, e2):
                    out.append((max(s1, s2), min(e1, e2)))
        return type(self).of(out)

    def __sub__(self, other: IntervalSet) -> Self:
        out: list[Interval] = []
        for start, end in self.intervals:
            cursor = start
            for s, e in other.intervals:
                if e < cursor or s > end:
                    continue
                if s > cursor:
                    out.append((cursor, s - 1))
                cursor = max(cursor, e + 1)
                if cursor > end:
                    break
            if cursor <= end:
                out.append((cursor, end))
        return type(self).of(out)

    def issubset(self, other: IntervalSet) -> bool:
        return not (self - other)

    def size(self) -> int:
        return sum(e - s + 1 for s, e in self.intervals)


class AddressSet(IntervalSet):
    """IPv4 addresses."""

    @classmethod
    def cidrs(cls, *cidrs: str) -> Self:
        out = []
        for cidr in cidrs:
            net = ipaddress.IPv4Network(cidr, strict=False)
            out.append((int(net.network_address), int(net.broadcast_address)))
        return cls(_normalise(out))

    @classmethod
    def between(cls, first: str, last: str) -> Self:
        return cls(
            _normalise([(int(ipaddress.IPv4Address(first)), int(ipaddress.IPv4Address(last)))])
        )

    @classmethod
    def everything(cls) -> Self:
        return cls(((0, MAX_ADDRESS),))

    def to_cidrs(self) -> list[str]:
        out: list[str] = []
        for start, end in self.intervals:
            nets = ipaddress.summarize_address_range(
                ipaddress.IPv4Address(start), ipaddress.IPv4Address(end)
            )
            out += [str(n) for n in nets]
        return out

    def __str__(self) -> str:
        return ", ".join(self.to_cidrs()) or "no address"


def ports(*numbers: int | tuple[int, int]) -> IntervalSet:
    return IntervalSet.of((n, n) if isinstance(n, int) else n for n in numbers)


ALL_PORTS: Final = IntervalSet(((PORT_MIN, PORT_MAX),))


@dataclass(frozen=True)
class Conns:
    """Connections: per port protocol the set of destination ports; `other` = non-port protocols."""

    by_protocol: Mapping[str, IntervalSet] = field(default_factory=dict)
    other: bool = False

    def __post_init__(self) -> None:
        unknown = set(self.by_protocol) - set(PORT_PROTOCOLS)
        if unknown:
            raise ValueError(f"unknown protocols {sorted(unknown)}; allowed: {PORT_PROTOCOLS}")
        # Drop empty entries so that equal sets compare equal.
        clean = {p: s for p, s in self.by_protocol.items() if s}
        object.__setattr__(self, "by_protocol", dict(sorted(clean.items())))

    def __hash__(self) -> int:
        return hash((tuple(self.by_protocol.items()), self.other))

    @classmethod
    def all(cls) -> Conns:
        return cls(dict.fromkeys(PORT_PROTOCOLS, ALL_PORTS), other=True)

    @classmethod
    def none(cls) -> Conns:
        return cls()

    @classmethod
    def one(cls, protocol: str, port: int) -> Conns:
        return cls({protocol: ports(port)})

    def ports(self, protocol: str) -> IntervalSet:
        return self.by_protocol.get(protocol, IntervalSet())

    def __bool__(self) -> bool:
        return bool(self.by_protocol) or self.other

    def __or__(self, other: Conns) -> Conns:
        keys = set(self.by_protocol) | set(other.by_protocol)
        return Conns({k: self.ports(k) | other.ports(k) for k in keys}, self.other or other.other)

    def __and__(self, other: Conns) -> Conns:
        keys = set(self.by_protocol) & set(other.by_protocol)
        return Conns({k: self.ports(k) & other.ports(k) for k in keys}, self.other and other.other)

    def __sub__(self, other: Conns) -> Conns:
        return Conns(
            {k: self.ports(k) - other.ports(k) for k in self.by_protocol},
            self.other and not other.other,
        )

    def admits(self, protocol: str, port: int) -> bool:
        return port in self.ports(protocol)

    def issubset(self, other: Conns) -> bool:
        return not (self - other)

    def __str__(self) -> str:
        if self == Conns.all():
            return "all connections"
        parts = []
        for protocol, port_set in self.by_protocol.items():
            if port_set == ALL_PORTS:
                parts.append(f"{protocol} all ports")
            else:
                numbers = ",".join(str(s) if s == e else f"{s}-{e}" for s, e in port_set.intervals)
                parts.append(f"{protocol} {numbers}")
        if self.other:
            parts.append("other protocols")
        return "; ".join(parts) or "nothing"


def union_conns(items: Iterable[Conns]) -> Conns:
    out = Conns.none()
    for item in items:
        out = out | item
    return out
