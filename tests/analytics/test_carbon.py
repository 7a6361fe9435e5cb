"""Carbon figures: scope 2 location- vs market-based by definition, hourly matching across DST, a meter
reset, a missing intensity hour, allocation to variants, scope 1 and scope 3 category 1.

The scope 2 example follows the GHG Protocol Scope 2 Guidance (WRI/WBCSD 2015), chapter 6: the
location-based total is consumption x the grid-average emission factor; the market-based total counts
consumption covered by energy attribute certificates at their (zero) emission factor and the rest at
the supplier-specific factor when there is one, else at the residual mix. With 1,000 kWh, a grid factor
of 200 g/kWh, certificates for 60 % and a residual mix of 450 g/kWh, the answers are 200 kg
(location) and 400 kWh x 450 g = 180 kg (market) by definition.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import duckdb
import polars as pl
import pytest
from synthetic_warehouse import build, write_raw

from twin.analytics import figures, store
from twin.analytics.allocation import EnergySplit, bill_of_materials
from twin.analytics.carbon import CarbonFactors, carbon, load_carbon_factors
from twin.analytics.frames import roles
from twin.analytics.period import Period, parse_period
from twin.cell.factors import Factor

UTC_US = pl.Datetime("us", "UTC")
T0 = datetime(2026, 10, 5, 4, tzinfo=UTC)  # Monday 06:00 Berlin


def hours_frame(kwh: list[float], start: datetime = T0) -> pl.DataFrame:
    return pl.DataFrame(
        {"hour_at": [start + timedelta(hours=i) for i in range(len(kwh))], "kwh": kwh},
        schema={"hour_at": UTC_US, "kwh": pl.Float64},
    )


def grid_frame(values: list[float | None], start: datetime = T0, region: str = "DE") -> pl.DataFrame:
    rows = [(region, start + timedelta(hours=i), v) for i, v in enumerate(values) if v is not None]
    return pl.DataFrame(
        rows, schema={"region": pl.String, "hour_at": UTC_US, "gco2e_per_kwh": pl.Float64}, orient="row"
    )


def no_units() -> pl.DataFrame:
    from twin.analytics.kpis import UNITS_SCHEMA

    return pl.DataFrame(schema=UNITS_SCHEMA)


def shared_only(kwh: list[float]) -> EnergySplit:
    hourly = hours_frame(kwh)
    return EnergySplit(
        hourly=hourly,
        direct=pl.DataFrame(schema={"variant": pl.String, "hour_at": UTC_US, "kwh": pl.Float64}),
        shared=hourly,
        by_meter=pl.DataFrame({"meter_id": ["cell_aux"], "kwh": [sum(kwh)], "direct_kwh": [0.0]}),
    )


def factor(name: str, value: float, unit: str = "gCO2e/kWh") -> Factor:
    return Factor(name, value, unit, "test", 2024, "DE")


@pytest.fixture
def factors(sample_cell) -> CarbonFactors:
    real = load_carbon_factors(sample_cell, 2026)
    return dataclasses.replace(
        real, grid_annual=factor("grid", 200.0), market=factor("residual", 450.0), market_basis="residual_mix",
        renewable_share=0.6,
    )  # fmt: skip


PERIOD = Period(T0, T0 + timedelta(hours=10), "Europe/Berlin")


def test_scope2_location_and_market_by_definition(sample_cell, factors):
    split = shared_only([100.0] * 10)  # 1,000 kWh
    r = carbon(split, grid_frame([200.0] * 10), no_units(), sample_cell, factors, PERIOD)
    assert r["energy_kwh"] == pytest.approx(1000.0)
    assert r["scope2_location_kg"] == pytest.approx(200.0)
    assert r["scope2_market_kg"] == pytest.approx(180.0)
    assert r["scope2_location_complete"] and r["missing_intensity_hours"] == 0
    supplier = dataclasses.replace(factors, market=factor("supplier", 300.0), market_basis="supplier")
    assert carbon(split, grid_frame([200.0] * 10), no_units(), sample_cell, supplier, PERIOD)[
        "scope2_market_kg"
    ] == pytest.approx(0.4 * 1000 * 0.300)


def test_location_based_is_hourly_not_an_average(sample_cell, factors):
    # 90 % of the energy in the cleanest hour: the hourly product differs from kWh x mean intensity
    r = carbon(shared_only([90.0, 10.0]), grid_frame([100.0, 500.0]), no_units(), sample_cell, factors, PERIOD)
    assert r["scope2_location_kg"] == pytest.approx((90 * 100 + 10 * 500) / 1000)


def test_missing_intensity_hour_is_reported_and_never_zero(sample_cell, factors):
    r = carbon(
        shared_only([10.0, 20.0, 30.0]), grid_frame([100.0, None, 300.0]), no_units(), sample_cell, factors, PERIOD
    )
    assert r["missing_intensity_hours"] == 1
    assert r["missing_intensity_kwh"] == pytest.approx(20.0)
    assert not r["scope2_location_complete"]
    # the missing hour is filled with the annual factor (200 g/kWh here), not zero
    assert r["scope2_location_filled_kg"] == pytest.approx(20 * 200 / 1000)
    assert r["scope2_location_kg"] == pytest.approx((10 * 100 + 20 * 200 + 30 * 300) / 1000)
    assert r["scope2_location_kg"] > (10 * 100 + 30 * 300) / 1000


def test_scope1_fuel_prorated_to_the_period(sample_cell, factors):
    cell = sample_cell.model_copy(
        update={"carbon": sample_cell.carbon.model_copy(update={"scope1_fuels": {"natural_gas": 8766.0}})}
    )
    gas = load_carbon_factors(cell, 2026).fuels
    one_day = Period(T0, T0 + timedelta(hours=24), "Europe/Berlin")
    r = carbon(
        shared_only([1.0]), grid_frame([100.0]), no_units(), cell, dataclasses.replace(factors, fuels=gas), one_day
    )
    # BAFA: natural gas 0.201 kg CO2/kWh (NCV); 8,766 kWh a year is 24 kWh a day
    assert r["scope1_kg"] == pytest.approx(0.201 * 24)


def test_bill_of_materials_footprint_uses_the_published_factors(sample_cell):
    lines = {(line.part, line.material): line.kg for line in bill_of_materials(sample_cell, "B4-PLA")}
    assert lines == {("bracket_pla", "pla"): 0.12, ("panel_alu", "aluminium"): 0.35, ("screw_m4x8", "steel"): 0.008}
    f = load_carbon_factors(sample_cell, 2026).materials
    kg = sum(kg * f[material].value for (_, material), kg in lines.items())
    # Groot & Boren 2010 (PLA 0.8), ICE v2.0 aluminium average 9.16, steel bar and rod 1.40 kg CO2e/kg
    assert kg == pytest.approx(0.12 * 0.8 + 0.35 * 9.16 + 0.008 * 1.40)


# ---------------------------------------------------------------------------------------- warehouse


def events_frame(rows: list[tuple[datetime, str, str, str | None, str | None]]) -> pl.DataFrame:
    schema = {"ts": UTC_US, "station_id": pl.String, "event": pl.String, "unit_id": pl.String, "variant": pl.String}
    return pl.DataFrame(rows, schema=schema, orient="row")


def energy_frame(rows: list[tuple[datetime, str, float]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema={"ts": UTC_US, "meter_id": pl.String, "energy_kwh": pl.Float64}, orient="row")


def grid_raw(rows: list[tuple[datetime, float]], region: str = "DE") -> pl.DataFrame:
    return pl.DataFrame(
        [(t, region, v) for t, v in rows], schema={"ts": UTC_US, "region": pl.String, "gco2e_per_kwh": pl.Float64},
        orient="row",
    )  # fmt: skip


def warehouse(
    events: pl.DataFrame, energy: pl.DataFrame, grid: pl.DataFrame, quality: list[tuple] | None = None
) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(":memory:")
    con.execute("set TimeZone = 'UTC'").fetchall()
    write_raw(con, "events", events)
    write_raw(con, "quality", pl.DataFrame(quality or [], schema={"ts": UTC_US, "unit_id": pl.String,
              "station_id": pl.String, "characteristic": pl.String, "value": pl.Float64, "lsl": pl.Float64,
              "usl": pl.Float64}, orient="row"))  # fmt: skip
    write_raw(con, "energy", energy)
    write_raw(con, "grid_intensity", grid)
    write_raw(con, "joint_states", pl.DataFrame(schema={"ts": UTC_US, "robot_id": pl.String, "q_1": pl.Float64}))
    build(con)
    return con


def carbon_of(con, cell, period: Period) -> dict:
    data = store.load_period(con, period, roles(cell), store.Rows(cell.cell.id), region=cell.carbon.grid_region)
    return figures.carbon_of(figures.prepare(cell, data))


def test_hourly_matching_in_utc_across_the_autumn_dst_change(sample_cell):
    # Sunday 2026-10-25, Berlin: 02:00-03:00 local happens twice (00:00Z CEST and 01:00Z CET)
    period = parse_period("2026-10-25", "2026-10-26", "Europe/Berlin")
    assert period.hours == 25
    start = period.start  # 2026-10-24T22:00Z
    readings, register = [], 100.0
    grid = []
    for h in range(25):
        hour = start + timedelta(hours=h)
        grid.append((hour, 100.0 + 10 * h))  # every UTC hour its own intensity
        for q in range(4):
            register += 0.25 * (h + 1)  # hour h uses (h + 1) kWh
            readings.append((hour + timedelta(minutes=15 * (q + 1)), "cell_aux", register))
    readings.insert(0, (start, "cell_aux", 100.0))
    con = warehouse(events_frame([]), energy_frame(readings), grid_raw(grid))
    r = carbon_of(con, sample_cell, period)
    assert r["energy_kwh"] == pytest.approx(sum(h + 1 for h in range(25)))
    assert r["missing_intensity_hours"] == 0
    assert r["scope2_location_kg"] == pytest.approx(sum((h + 1) * (100 + 10 * h) for h in range(25)) / 1000)
    # the repeated local hour: its two UTC hours keep their own energy and intensity
    data = store.load_period(con, period, roles(sample_cell), store.Rows(sample_cell.cell.id))
    hourly = data.energy_hourly.sort("hour_at")
    local_02 = hourly.filter(pl.col("hour_at").dt.convert_time_zone("Europe/Berlin").dt.hour() == 2)
    assert local_02["kwh"].to_list() == pytest.approx([3.0, 4.0])


def test_meter_reset_and_spreading_over_hours(sample_cell):
    t = T0
    readings = [
        (t + timedelta(minutes=30), "cell_aux", 1000.0),
        (t + timedelta(minutes=150), "cell_aux", 1002.0),  # 2 kWh over 00:30-02:30: 0.5 / 1.0 / 0.5
        (t + timedelta(minutes=165), "cell_aux", 0.3),  # register replaced: the new reading is the delta
        (t + timedelta(minutes=180), "cell_aux", 0.8),
    ]
    grid = [(t + timedelta(hours=h), v) for h, v in enumerate([100.0, 200.0, 300.0])]
    con = warehouse(events_frame([]), energy_frame(readings), grid_raw(grid))
    period = Period(t, t + timedelta(hours=3), "Europe/Berlin")
    r = carbon_of(con, sample_cell, period)
    assert r["energy_kwh"] == pytest.approx(2.0 + 0.3 + 0.5)
    assert r["scope2_location_kg"] == pytest.approx((0.5 * 100 + 1.0 * 200 + (0.5 + 0.3 + 0.5) * 300) / 1000)


def test_missing_intensity_hour_through_the_warehouse(sample_cell):
    t = T0
    readings = [(t + timedelta(hours=h), "cell_aux", 10.0 + h) for h in range(4)]  # 1 kWh in hours 0, 1, 2
    grid = [(t, 100.0), (t + timedelta(hours=2), 300.0)]  # hour 1 has none
    con = warehouse(events_frame([]), energy_frame(readings), grid_raw(grid))
    r = carbon_of(con, sample_cell, Period(t, t + timedelta(hours=3), "Europe/Berlin"))
    annual = load_carbon_factors(sample_cell, 2026).grid_annual.value
    assert r["missing_intensity_hours"] == 1 and not r["scope2_location_complete"]
    assert r["scope2_location_kg"] == pytest.approx((100 + annual + 300) / 1000)
    assert any("fills hours without intensity" in f["name"] for f in r["factors"])


def test_direct_energy_goes_to_the_variants_cycling_and_shared_energy_by_run_time(sample_cell):
    t = T0
    ev = []
    for unit, variant, offset, r2_s in (("U1", "B4-PLA", 0, 30), ("U2", "B8-ALU", 100, 10)):
        a = t + timedelta(seconds=offset)
        ev += [(a, "R2", "cycle_start", unit, variant), (a + timedelta(seconds=r2_s), "R2", "cycle_end", unit, variant)]
        b = a + timedelta(seconds=r2_s)
        ev += [
            (b, "outfeed_belt", "cycle_start", unit, variant),
            (b + timedelta(seconds=10), "outfeed_belt", "cycle_end", unit, variant),
        ]
    readings = [
        (t, "R2", 50.0), (t + timedelta(hours=1), "R2", 54.0),  # 4 kWh while U1 (30 s) and U2 (10 s) cycled
        (t, "cell_aux", 10.0), (t + timedelta(hours=1), "cell_aux", 12.0),  # 2 kWh shared
        (t, "outfeed_belt", 1.0), (t + timedelta(hours=1), "outfeed_belt", 1.0),
    ]  # fmt: skip
    inspected = [
        (t, unit, "outfeed_belt", "gap_mm", 1.0, 0.6, 1.4) for unit in ("U1", "U2")
    ]  # both good: per-unit figures
    con = warehouse(events_frame(ev), energy_frame(readings), grid_raw([(t, 100.0)]), inspected)
    r = carbon_of(con, sample_cell, Period(t, t + timedelta(hours=1), "Europe/Berlin"))
    by = {v["variant"]: v for v in r["by_variant"]}
    # run time U1 = 30 + 10 s, U2 = 10 + 10 s: shared 2 kWh split 2:1; R2's 4 kWh split 3:1
    kwh_u1 = 4 * 30 / 40 + 2 * 40 / 60
    kwh_u2 = 4 * 10 / 40 + 2 * 20 / 60
    assert by["B4-PLA"]["units"] == 1 and by["B8-ALU"]["units"] == 1
    assert by["B4-PLA"]["per_unit_kg"]["scope2_location"] == pytest.approx(kwh_u1 * 0.1)
    assert by["B8-ALU"]["per_unit_kg"]["scope2_location"] == pytest.approx(kwh_u2 * 0.1)
    assert r["per_unit_kg"]["scope2_location"] == pytest.approx(6 * 0.1 / 2)
    assert "in proportion to their run time" in r["allocation"]
