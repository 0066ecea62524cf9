"""The dated price table: every figure sourced, lookups that name what is missing."""

from __future__ import annotations

from datetime import date

import pytest

from platformctl import prices
from platformctl.prices import Price, PriceError, monthly, prices_for
from stacks.catalog import EC2_INSTANCE_TYPES, RDS_INSTANCE_CLASSES


def _all_prices() -> list[tuple[str, Price]]:
    out: list[tuple[str, Price]] = []
    for region, table in prices.TABLES.items():
        out += [(f"{region} {k}", p) for k, p in table.items.items()]
        for t, p in table.ec2.items():
            out += [(f"{region} {t} on-demand", p.on_demand), (f"{region} {t} spot", p.spot)]
        out += [(f"{region} {e} {c}", p) for (e, c), p in table.rds.items()]
    return out


@pytest.mark.parametrize(
    ("what", "price"), _all_prices(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_every_price_is_positive_with_a_unit_and_an_aws_source(what: str, price: Price) -> None:
    assert price.usd > 0, what
    assert price.unit in ("hour", "AZ-hour", "GB-month", "month", "GB"), what
    assert price.source.startswith("https://aws.amazon.com/"), what
    assert price.how, what


def test_the_table_is_dated() -> None:
    assert date.fromisoformat(prices.PRICE_TABLE_DATE) == date(2026, 12, 1)


def test_every_instance_type_and_database_class_the_settings_allow_is_priced() -> None:
    table = prices_for("eu-west-1")
    for instance_type in EC2_INSTANCE_TYPES:
        assert (
            table.instance(instance_type, spot=False).usd
            > table.instance(instance_type, spot=True).usd
        )
    for engine in ("postgres", "mysql"):
        for klass in RDS_INSTANCE_CLASSES:
            assert table.database(engine, klass).usd > 0


def test_spot_is_marked_as_not_a_list_price() -> None:
    spot = prices_for("eu-west-1").instance("t3.large", spot=True)
    assert "not a list price" in spot.how
    assert spot.source == prices.SPOT_PAGE


def test_an_unknown_region_is_an_error_naming_it() -> None:
    with pytest.raises(
        PriceError, match=r"region 'us-east-1' is not in the price table .*eu-west-1"
    ):
        prices_for("us-east-1")


def test_an_unknown_instance_type_is_an_error_naming_it() -> None:
    with pytest.raises(
        PriceError, match=r"instance type 'p5.48xlarge' has no price in the eu-west-1"
    ):
        prices_for("eu-west-1").instance("p5.48xlarge", spot=False)


def test_an_unknown_database_class_is_an_error_naming_it() -> None:
    with pytest.raises(PriceError, match=r"database class 'db.x2g.large' \(postgres\)"):
        prices_for("eu-west-1").database("postgres", "db.x2g.large")


def test_an_unknown_item_is_an_error_naming_it() -> None:
    with pytest.raises(PriceError, match=r"price 'elb.alb' is not in the eu-west-1 price table"):
        prices_for("eu-west-1").item("elb.alb")


@pytest.mark.parametrize(
    ("price", "quantity", "expected"),
    [
        (Price(0.10, "hour", "s"), 1, 73.0),
        (Price(0.011, "AZ-hour", "s"), 3, 24.09),
        (Price(0.088, "GB-month", "s"), 50, 4.4),
        (Price(1.0, "month", "s"), 4, 4.0),
    ],
)
def test_monthly(price: Price, quantity: float, expected: float) -> None:
    assert round(monthly(price, quantity), 2) == expected


def test_a_per_gb_price_has_no_monthly_figure() -> None:
    with pytest.raises(PriceError, match="usage-priced"):
        monthly(Price(0.048, "GB", "s"))
