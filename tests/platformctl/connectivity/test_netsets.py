"""Interval sets of addresses and ports, and connection sets: exact set algebra."""

from __future__ import annotations

from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from platformctl.checks.netsets import ALL_PORTS, AddressSet, Conns, IntervalSet, ports

intervals = st.lists(
    st.tuples(st.integers(0, 60), st.integers(0, 60)).map(lambda t: (min(t), max(t))), max_size=6
)


def members(s: IntervalSet) -> set[int]:
    return {n for start, end in s.intervals for n in range(start, end + 1)}


@given(intervals, intervals)
def test_interval_set_algebra_matches_python_sets(
    a: list[tuple[int, int]], b: list[tuple[int, int]]
) -> None:
    x, y = IntervalSet.of(a), IntervalSet.of(b)
    assert members(x | y) == members(x) | members(y)
    assert members(x & y) == members(x) & members(y)
    assert members(x - y) == members(x) - members(y)
    assert x.issubset(x | y)
    assert (x - y).issubset(x)
    assert x.size() == len(members(x))


@given(intervals)
def test_normal_form_is_sorted_disjoint_and_not_adjacent(a: list[tuple[int, int]]) -> None:
    normal = IntervalSet.of(a).intervals
    for (_, end), (start, _) in pairwise(normal):
        assert start > end + 1


def test_address_sets_from_cidrs_and_back() -> None:
    vpc = AddressSet.cidrs("10.40.0.0/16")
    private = AddressSet.cidrs("10.40.0.0/19", "10.40.32.0/19", "10.40.64.0/19")
    assert (vpc - private).to_cidrs() == ["10.40.96.0/19", "10.40.128.0/17"]
    assert private.to_cidrs() == ["10.40.0.0/18", "10.40.64.0/19"]
    assert str(AddressSet.between("172.20.0.1", "172.20.0.1")) == "172.20.0.1/32"
    assert str(AddressSet()) == "no address"
    assert AddressSet.everything().size() == 2**32


def test_conns_operations_and_text() -> None:
    web = Conns({"TCP": ports(80, 443)})
    dns = Conns({"UDP": ports(53), "TCP": ports(53)})
    both = web | dns
    assert both.admits("TCP", 443)
    assert both.admits("UDP", 53)
    assert not both.admits("UDP", 443)
    assert str(both) == "TCP 53,80,443; UDP 53"
    assert str(both - web) == "TCP 53; UDP 53"
    assert str(Conns.all()) == "all connections"
    assert str(Conns.all() - Conns.one("TCP", 9090)) == (
        "SCTP all ports; TCP 1-9089,9091-65535; UDP all ports; other protocols"
    )
    assert not (web - web)
    assert web.issubset(both)
    assert Conns({"TCP": ALL_PORTS}) & web == web
    assert Conns({"TCP": IntervalSet()}) == Conns.none()  # empty entries dropped


def test_conns_refuse_unknown_protocols() -> None:
    with pytest.raises(ValueError, match=r"unknown protocols \['ICMP'\]"):
        Conns({"ICMP": ports(1)})
