"""Cost per unit: time-of-use prices by local hour, every cost line on a hand-built period, `twin cost`.

Expected prices are the bands of ``de_industrial_tou`` as ``assets/factors/README.md`` tabulates them
(Mon-Fri offpeak 22-6 0.1399, shoulder 6-8 and 20-22 0.1665, peak 8-20 0.1915; Sat-Sun offpeak 22-6,
shoulder 6-22; EUR/kWh). Bills of materials use the sample cell's part masses and material prices.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import polars as pl
import pytest

from twin.analytics.allocation import EnergySplit
from twin.analytics.cost import cost, hourly_prices
from twin.analytics.frames import roles
from twin.analytics.kpis import unit_table
from twin.analytics.period import Period
from twin.cell.calendar import shift_windows
from twin.cell.factors import cell_tariff, tariff_schedule
from twin.errors import ConfigError

UTC_US = pl.Datetime("us", "UTC")
OFFPEAK, SHOULDER, PEAK = 0.1399, 0.1665, 0.1915


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_prices_follow_the_local_hour_and_day_type():
    hours = pl.DataFrame(
        {
            "hour_at": [
                utc("2026-10-05T04:00"),  # Mon 06:00 CEST: shoulder
                utc("2026-10-05T06:00"),  # Mon 08:00: peak
                utc("2026-10-05T18:00"),  # Mon 20:00: shoulder
                utc("2026-10-05T20:00"),  # Mon 22:00: offpeak
                utc("2026-10-24T22:00"),  # Sun 00:00 CEST: weekend offpeak
                utc("2026-10-25T00:00"),  # Sun 02:00 CEST (first 02:00)
                utc("2026-10-25T01:00"),  # Sun 02:00 CET (the repeated hour)
                utc("2026-10-25T10:00"),  # Sun 11:00 CET: weekend shoulder
                utc("2026-10-30T23:00"),  # Sat 00:00 CET: weekend offpeak, not Friday's
            ],
        },
        schema={"hour_at": UTC_US},
    )
    priced = hourly_prices(hours, tariff_schedule("de_industrial_tou"))
    assert priced["price_per_kwh"].to_list() == [SHOULDER, PEAK, SHOULDER, OFFPEAK, OFFPEAK, OFFPEAK, OFFPEAK,
                                               SHOULDER, OFFPEAK]  # fmt: skip


@pytest.fixture
def hand_built(sample_cell, units_frame):
    """A hand-built Monday: four units of B4-PLA, 1 kWh direct at peak, 2 kWh shared at shoulder."""
    period = Period(utc("2026-10-04T22:00"), utc("2026-10-05T22:00"), "Europe/Berlin")  # Monday, local
    r = roles(sample_cell)
    at = [utc("2026-10-05T06:30")] * 4
    units = unit_table(
        units_frame(
            [
                ("good", "good", False),
                ("failed", "reworked", True),
                ("failed", "scrapped", False),
                ("not_inspected", "escaped", False),
            ],
            unit_id=["good", "reworked", "scrapped", "escaped"],
            variant=["B4-PLA"] * 4,
            first_start_at=[utc("2026-10-05T06:00")] * 4,
            last_end_at=at,
            completed_at=at,
            station_end_at=at,
            run_s=[10.0, 20.0, 30.0, 40.0],
        ),  # fmt: skip
        period,
    )
    occupancy = pl.DataFrame(
        {"station_id": ["R2", "printers"], "variant": ["B4-PLA", "B4-PLA"], "hour_at": [utc("2026-10-05T06:00")] * 2,
         "busy_s": [1800.0, 3600.0], "n_units": [3, 3]},
        schema={"station_id": pl.String, "variant": pl.String, "hour_at": UTC_US, "busy_s": pl.Float64,
                "n_units": pl.Int64},
    )  # fmt: skip
    direct = pl.DataFrame(
        {"variant": ["B4-PLA"], "hour_at": [utc("2026-10-05T06:00")], "kwh": [1.0]},  # 08:00 local: peak
        schema={"variant": pl.String, "hour_at": UTC_US, "kwh": pl.Float64},
    )
    shared = pl.DataFrame(
        {"hour_at": [utc("2026-10-05T05:00")], "kwh": [2.0]}, schema={"hour_at": UTC_US, "kwh": pl.Float64}
    )
    split = EnergySplit(
        hourly=pl.concat([shared, direct.drop("variant")]).sort("hour_at"),
        direct=direct,
        shared=shared,
        by_meter=pl.DataFrame({"meter_id": ["R2"], "kwh": [3.0], "direct_kwh": [1.0]}),
    )
    shifts = shift_windows(sample_cell.shifts, period)  # 06:00-22:00, breaks paid: 16 h
    return split, units, occupancy, shifts, r, period


def test_every_cost_line_on_a_hand_built_period(sample_cell, hand_built):
    split, units, occupancy, shifts, r, period = hand_built
    result = cost(split, units, occupancy, shifts, 3600.0, sample_cell, r, period, tariff_schedule("de_industrial_tou"))
    bom = 0.12 * 22.0 + 0.35 * 9.0 + 4 * 0.002 * 4.0  # PLA filament, aluminium panel, 4 steel screws (EUR)
    totals = result["total_cost"]
    # per delivered unit: good, reworked and escaped (the escaped unit left the cell too); two are good
    assert result["units"] == 3 and result["units_good"] == 2
    assert result["units_reworked"] == 1 and result["units_scrapped"] == 1
    assert result["units_completed"] == 4 and result["units_escaped"] == 1
    assert totals["energy"] == pytest.approx(1.0 * PEAK + 2.0 * SHOULDER)
    assert totals["labour"] == pytest.approx(16 * 1.0 * 48.0)
    assert totals["equipment"] == pytest.approx(0.5 * 3.2 + 1.0 * 2.4)  # R2 half an hour, printer-hours 1
    assert totals["maintenance"] == pytest.approx(1.0 * 2.5)
    assert totals["material"] == pytest.approx(3 * bom)  # delivered: good, reworked and the escaped unit
    assert totals["poor_quality"] == pytest.approx(6.0 + bom)  # rework + the scrapped unit's materials
    assert result["bom_per_unit"]["B4-PLA"] == pytest.approx(bom)
    per = result["cost_per_unit"]
    assert per["total"] == pytest.approx(sum(totals[k] for k in per if k != "total") / 3)
    (variant,) = result["by_variant"]
    assert variant["variant"] == "B4-PLA" and variant["units"] == 3
    assert variant["cost_per_unit"]["total"] == pytest.approx(per["total"])
    assert result["currency"] == "EUR" and result["tariff"]["unit"] == "EUR/kWh"
    assert result["tariff"]["conversion"] is None


def test_a_pln_cell_prices_its_eur_tariff_at_its_exchange_rate(sample_cell, hand_built):
    """1 EUR = 4.3 PLN: the energy line is (1 kWh x peak + 2 kWh x shoulder) x 4.3, every other line the cell's."""
    split, units, occupancy, shifts, r, period = hand_built
    rate = {"rate": 4.3, "date": "2024-12-31", "source": "NBP table A no. 252/A/NBP/2024"}
    data = sample_cell.model_dump()
    data["cost"] = {**data["cost"], "currency": "PLN", "exchange_rates": {"EUR": rate}}
    pln_cell = type(sample_cell).model_validate(data)
    eur = cost(split, units, occupancy, shifts, 3600.0, sample_cell, r, period, tariff_schedule("de_industrial_tou"))
    with pytest.raises(ConfigError, match=r"priced in EUR/kWh, the cell in PLN"):
        cost(split, units, occupancy, shifts, 3600.0, pln_cell, r, period, tariff_schedule("de_industrial_tou"))
    pln = cost(split, units, occupancy, shifts, 3600.0, pln_cell, r, period, cell_tariff(pln_cell))
    assert pln["total_cost"]["energy"] == pytest.approx((1.0 * 0.1915 + 2.0 * 0.1665) * 4.3)  # 2.25524 PLN
    for line in ("labour", "material", "equipment", "maintenance", "poor_quality"):
        assert pln["total_cost"][line] == pytest.approx(eur["total_cost"][line])
    assert pln["currency"] == "PLN" and pln["tariff"]["unit"] == "PLN/kWh"
    assert "1 EUR = 4.3 PLN" in pln["tariff"]["conversion"]
    assert pln["tariff"]["sources"][-1] == pln["tariff"]["conversion"]


def test_twin_cost_json(tmp_path, capsys):
    import duckdb
    from synthetic_warehouse import build, write_synthetic

    from twin.cell.load import load_cell
    from twin.cli import main

    path = tmp_path / "twin.duckdb"
    con = duckdb.connect(str(path))
    write_synthetic(con, load_cell(), datetime(2026, 10, 5).date(), 2)
    build(con)
    con.close()
    code = main(["cost", "--warehouse", str(path), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert isinstance(out["units"], int) and out["units"] > 0
    lines = {"energy", "labour", "material", "equipment", "maintenance", "poor_quality", "total"}
    assert set(out["cost_per_unit"]) == lines
    assert {v["variant"] for v in out["by_variant"]} == {"B4-PLA", "B6-RPLA", "B8-ALU"}
    assert all(set(v["cost_per_unit"]) == lines for v in out["by_variant"])
    assert sum(v["units"] for v in out["by_variant"]) == out["units"]
    total = sum(v["cost_per_unit"]["total"] * v["units"] for v in out["by_variant"])
    assert total == pytest.approx(out["cost_per_unit"]["total"] * out["units"])
    assert out["period"]["from"] == "2026-10-05T00:00:00+02:00" and out["period"]["to"] == "2026-10-07T00:00:00+02:00"

    code = main(["cost", "--warehouse", str(tmp_path / "missing.duckdb")])
    assert code == 2 and "no warehouse" in capsys.readouterr().err
