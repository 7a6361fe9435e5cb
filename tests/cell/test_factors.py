"""Factor tables: every shipped table loads with provenance and plausible values; the loader's errors."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import polars as pl
import pytest

from twin import paths
from twin.cell import factors as fx
from twin.errors import AssetError, ConfigError, TwinError

SHIPPED = fx.available_tables()
TABLE_VERSIONS = [(name, v) for name, versions in SHIPPED.items() for v in versions]
TABLE_IDS = [f"{name}_v{v}" for name, v in TABLE_VERSIONS]
BERLIN = ZoneInfo("Europe/Berlin")


def test_the_expected_tables_ship() -> None:
    assert {"grid_intensity", "residual_mix", "materials", "tariffs", "fuels"} <= set(SHIPPED)
    assert paths.FACTORS_DIR.joinpath("README.md").is_file()


# --------------------------------------------------------------------------------------------------
# Every shipped table, every version
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "version"), TABLE_VERSIONS, ids=TABLE_IDS)
def test_table_loads_with_declared_dtypes(name: str, version: int) -> None:
    frame = fx.load_factor_table(name, version)
    assert frame.height > 0
    assert frame.schema["value"] == pl.Float64
    assert frame.schema["year"] == pl.Int64
    for col in ("name", "unit", "source", "region"):
        assert frame.schema[col] == pl.String
    schema = fx.TABLE_SCHEMAS.get(name)
    if schema is not None:
        for col in schema.columns:
            if col.required:
                assert frame.schema[col.name] == col.dtype, col.name


@pytest.mark.parametrize(("name", "version"), TABLE_VERSIONS, ids=TABLE_IDS)
def test_every_row_has_its_provenance(name: str, version: int) -> None:
    rows = fx.factor_rows(fx.load_factor_table(name, version))
    for row in rows:
        assert set(row) == set(fx.PROVENANCE_COLUMNS)
        for key in ("name", "unit", "source", "region"):
            assert isinstance(row[key], str) and row[key].strip(), (name, row["name"], key)
        assert isinstance(row["year"], int)
        assert 2010 <= row["year"] <= 2026, (name, row["name"], row["year"])
        assert isinstance(row["value"], float)
        assert row["value"] > 0, (name, row["name"])


@pytest.mark.parametrize(("name", "version"), TABLE_VERSIONS, ids=TABLE_IDS)
def test_verified_sources_cite_a_document(name: str, version: int) -> None:
    """A checked value names a URL/DOI or the ICE v2.0 citation; anything else must say unverified."""
    for row in fx.factor_rows(fx.load_factor_table(name, version)):
        source = row["source"]
        if fx.is_verified(source):
            assert "http" in source or "Inventory of Carbon & Energy (ICE) v2.0" in source, row["name"]
            assert re.search(r"(19|20)\d\d", source), row["name"]


@pytest.mark.parametrize(("name", "version"), TABLE_VERSIONS, ids=TABLE_IDS)
def test_names_are_unique_per_year(name: str, version: int) -> None:
    frame = fx.load_factor_table(name, version)
    assert frame.select("name", "year").is_duplicated().sum() == 0


# --------------------------------------------------------------------------------------------------
# Physical plausibility
# --------------------------------------------------------------------------------------------------


def test_grid_intensity_ranges() -> None:
    frame = fx.load_factor_table("grid_intensity")
    assert set(frame["unit"].to_list()) <= {"gCO2/kWh", "gCO2e/kWh"}
    assert frame["value"].min() > 0 and frame["value"].max() < 1200
    de = frame.filter((pl.col("region") == "DE") & pl.col("year").is_between(2022, 2024))
    assert de.height >= 1
    assert de["value"].is_between(300, 500).all()
    assert fx.grid_factor("FR").value < 100
    assert fx.grid_factor("SE").value < 100
    assert fx.grid_factor("PL").value > fx.grid_factor("DE").value
    assert {"DE", "FR", "GB", "PL", "SE", "ES", "US"} <= set(frame["region"].to_list())


def test_german_grid_factor_falls_over_the_years() -> None:
    values = [fx.grid_factor("DE", y).value for y in (2022, 2023, 2024)]
    assert values == sorted(values, reverse=True)


def test_residual_mix_ranges() -> None:
    frame = fx.load_factor_table("residual_mix")
    assert frame["value"].is_between(0, 1200).all()
    assert {"DE", "FR", "PL", "SE", "ES"} <= set(frame["region"].to_list())
    # Certificates are sold out of the clean part of the mix, so DE's residual mix is dirtier than its grid.
    assert fx.residual_mix("DE").value > fx.grid_factor("DE").value
    assert fx.residual_mix("FR").value < 100


def test_material_ranges() -> None:
    frame = fx.load_factor_table("materials")
    assert set(frame["unit"].to_list()) == {"kgCO2e/kg"}
    assert frame["value"].is_between(0.05, 50).all()
    pla = fx.material_factor("pla")
    assert 0.5 <= pla.value <= 4
    assert fx.material_factor("aluminium_primary").value > fx.material_factor("aluminium_recycled").value
    assert (
        fx.material_factor("aluminium_recycled").value
        < fx.material_factor("aluminium").value
        < fx.material_factor("aluminium_primary").value
    )
    assert fx.material_factor("recycled_pla").value < pla.value
    assert 0.3 < fx.material_factor("steel").value < 5


def test_sample_cell_materials_and_tariff_resolve() -> None:
    """The keys the sample cell uses (assets/cells/microfactory-v2.yaml) exist in the tables."""
    for material in ("pla", "recycled_pla", "aluminium", "steel"):
        assert fx.material_factor(material).value > 0
    assert fx.tariff_schedule("de_industrial_tou").timezone == "Europe/Berlin"
    assert fx.grid_factor("DE").region == "DE"
    assert fx.residual_mix("DE").region == "DE"


def test_unverified_values_are_flagged() -> None:
    assert not fx.material_factor("recycled_pla").verified
    assert fx.material_factor("pla").verified
    tou = fx.load_factor_table("tariffs").filter(pl.col("tariff_id") == "de_industrial_tou")
    assert not any(fx.is_verified(s) for s in tou["source"].to_list())
    assert fx.grid_factor("DE").verified


def test_fuel_ranges() -> None:
    gas = fx.fuel_factor("natural_gas")
    assert gas.unit.startswith("kgCO2") and 0.15 < gas.value < 0.25
    assert 0.2 < fx.fuel_factor("heating_oil").value < 0.3
    assert 2.0 < fx.fuel_factor("diesel_gb").value < 3.0


def test_factor_is_usable_as_a_number_and_a_report_row() -> None:
    factor = fx.grid_factor("de")
    assert float(factor) == factor.value
    assert factor.as_dict() == {k: getattr(factor, k) for k in fx.PROVENANCE_COLUMNS}


def test_grid_factor_year_selection_and_errors() -> None:
    assert fx.grid_factor("DE", 2023).year == 2023
    assert fx.grid_factor("DE", 2030).year == fx.grid_factor("DE").year  # latest in or before 2030
    with pytest.raises(ConfigError, match=r"in or before 2000; available years: 2022"):
        fx.grid_factor("DE", 2000)
    with pytest.raises(ConfigError, match=r"region 'XX'; valid: DE, ES, FR"):
        fx.grid_factor("XX")
    with pytest.raises(ConfigError, match=r"valid: .*recycled_pla"):
        fx.material_factor("unobtainium")


# --------------------------------------------------------------------------------------------------
# The v2 tables: more regions, the Scope 2 combustion basis, the sample cell's factors unchanged
# --------------------------------------------------------------------------------------------------

NEW_REGIONS = ("PL", "FR", "ES", "IT", "GB", "US-CA")
TARIFF_CURRENCY = {"PL": "PLN", "FR": "EUR", "ES": "EUR", "IT": "EUR", "GB": "GBP", "US-CA": "USD"}
V2_TABLES = ("grid_intensity", "residual_mix", "tariffs")


def _new_rows(name: str) -> list[dict[str, object]]:
    """The rows of ``<name>_v2`` that ``<name>_v1`` does not hold as they are (new or changed)."""
    old = fx.load_factor_table(name, 1).to_dicts()
    return [row for row in fx.load_factor_table(name, 2).to_dicts() if row not in old]


@pytest.mark.parametrize("name", V2_TABLES)
def test_every_new_row_names_its_source_year_and_region(name: str) -> None:
    rows = _new_rows(name)
    assert rows
    for row in rows:
        source = str(row["source"])
        assert source.strip() and str(row["region"]).strip(), row["name"]
        assert isinstance(row["year"], int) and 2020 <= row["year"] <= 2026, row["name"]
        assert re.search(r"(19|20)\d\d", source) and "http" in source, row["name"]  # a dated document, and where
        if fx.is_verified(source):
            assert "unverified" not in source.lower(), row["name"]


@pytest.mark.parametrize("name", V2_TABLES)
def test_the_v2_tables_cover_the_new_regions(name: str) -> None:
    assert set(NEW_REGIONS) <= set(fx.load_factor_table(name, 2)["region"].to_list())


def test_each_new_region_has_a_tariff_in_its_own_currency() -> None:
    frame = fx.load_factor_table("tariffs", 2)
    for region, currency in TARIFF_CURRENCY.items():
        units = set(frame.filter(pl.col("region") == region)["unit"].to_list())
        assert units == {f"{currency}/kWh"}, (region, units)


def test_v2_grid_factors_are_combustion_factors() -> None:
    """Scope 2 takes direct (combustion) factors; v1's lifecycle rows (FR, PL, SE, ES) are not carried over."""
    frame = fx.load_factor_table("grid_intensity", 2)
    assert not any("lifecycle" in basis for basis in frame["basis"].to_list())
    assert all(basis.startswith("direct_") for basis in frame["basis"].to_list())
    v1_lifecycle = fx.load_factor_table("grid_intensity", 1).filter(pl.col("basis").str.contains("lifecycle"))
    assert set(v1_lifecycle["region"].to_list()) == {"FR", "PL", "SE", "ES"}


def test_the_sample_cells_factors_are_the_same_in_v1_and_v2() -> None:
    for year in (2022, 2023, 2024, 2026, None):
        assert fx.grid_factor("DE", year, version=2) == fx.grid_factor("DE", year, version=1)
    assert fx.residual_mix("DE", 2026, version=2) == fx.residual_mix("DE", 2026, version=1)
    assert fx.tariff_schedule("de_industrial_tou", version=2) == fx.tariff_schedule("de_industrial_tou", version=1)
    assert (
        fx.load_factor_table("grid_intensity")["name"].to_list()
        == fx.load_factor_table("grid_intensity", 2)["name"].to_list()
    )  # the loader reads v2 by default


# --------------------------------------------------------------------------------------------------
# Tariffs
# --------------------------------------------------------------------------------------------------


def _hours(start: int, end: int) -> list[int]:
    return list(range(start, end)) if end > start else [*range(start, 24), *range(0, end)]


@pytest.mark.parametrize(("name", "version"), [tv for tv in TABLE_VERSIONS if tv[0] == "tariffs"])
def test_tariff_bands_cover_each_hour_of_each_day_type_exactly_once(name: str, version: int) -> None:
    frame = fx.load_factor_table(name, version)
    for tariff_id in frame["tariff_id"].unique().to_list():
        rows = frame.filter(pl.col("tariff_id") == tariff_id).to_dicts()
        for day_type in ("mon-fri", "sat-sun"):
            counts = [0] * 24
            for row in rows:
                if row["days"] in (day_type, "all"):
                    for hour in _hours(row["start_hour"], row["end_hour"]):
                        counts[hour] += 1
            assert counts == [1] * 24, (tariff_id, day_type, counts)
        units = {row["unit"] for row in rows}
        assert len(units) == 1 and fx.unit_currency(units.pop()) is not None, (tariff_id, units)
        assert all(0.01 < row["value"] < 1.0 for row in rows)


def test_tariff_lookup_is_weekday_and_weekend_aware() -> None:
    monday_9 = datetime(2026, 11, 2, 9, 0)
    saturday_9 = datetime(2026, 11, 7, 9, 0)
    monday_23 = datetime(2026, 11, 2, 23, 30)
    saturday_1 = datetime(2026, 11, 7, 1, 0)
    peak = fx.tariff_price_per_kwh("de_industrial_tou", monday_9)
    assert peak > fx.tariff_price_per_kwh("de_industrial_tou", saturday_9)
    assert fx.tariff_price_per_kwh("de_industrial_tou", monday_23) < peak
    schedule = fx.tariff_schedule("de_industrial_tou")
    assert schedule.band_at(monday_9) == "peak"
    assert schedule.band_at(saturday_9) == "shoulder"
    assert schedule.band_at(monday_23) == "offpeak"
    assert schedule.band_at(saturday_1) == "offpeak"
    assert schedule.band_at(datetime(2026, 11, 2, 7, 59)) == "shoulder"
    assert schedule.band_at(datetime(2026, 11, 2, 8, 0)) == "peak"
    assert schedule.band_at(datetime(2026, 11, 2, 20, 0)) == "shoulder"
    flat = fx.tariff_schedule("de_industrial_flat_bdew")
    assert len(set(flat.weekday + flat.weekend)) == 1


def test_tariff_lookup_converts_aware_times_to_the_tariff_zone() -> None:
    # 07:30 UTC on a Monday in winter is 08:30 in Berlin: peak; in summer 06:30 UTC is 08:30 too.
    winter = datetime(2026, 11, 2, 7, 30, tzinfo=UTC)
    summer = datetime(2026, 6, 1, 6, 30, tzinfo=UTC)
    naive_peak = fx.tariff_price_per_kwh("de_industrial_tou", datetime(2026, 11, 2, 8, 30))
    assert fx.tariff_price_per_kwh("de_industrial_tou", winter) == naive_peak
    assert fx.tariff_price_per_kwh("de_industrial_tou", summer) == naive_peak
    # Friday 23:30 UTC is Saturday 00:30 in Berlin: weekend bands.
    friday_late = datetime(2026, 11, 6, 23, 30, tzinfo=UTC)
    assert fx.tariff_schedule("de_industrial_tou").band_at(friday_late) == "offpeak"
    assert fx.tariff_schedule("de_industrial_tou").local_time(friday_late).weekday() == 5


def test_tou_mean_matches_its_flat_anchor() -> None:
    tou = fx.tariff_schedule("de_industrial_tou")
    anchor = fx.tariff_schedule("de_industrial_flat_bdew").weekday[0]
    weekly_mean = (5 * sum(tou.weekday) + 2 * sum(tou.weekend)) / 168
    assert weekly_mean == pytest.approx(anchor, rel=0.005)


def test_tariff_price_over_a_dst_week_is_defined_every_hour() -> None:
    start = datetime(2026, 3, 28, 0, 0, tzinfo=BERLIN)  # the weekend clocks go forward
    hours = [start + timedelta(hours=h) for h in range(24 * 7)]
    prices = [fx.tariff_price_per_kwh("de_industrial_tou", t) for t in hours]
    assert all(p > 0 for p in prices)


def test_tariff_errors() -> None:
    with pytest.raises(ConfigError, match=r"unknown tariff 'nope'; valid: .*de_industrial_tou"):
        fx.tariff_price_per_kwh("nope", datetime(2026, 1, 1))
    with pytest.raises(ConfigError, match="needs a datetime"):
        fx.tariff_price_per_kwh("de_industrial_tou", "2026-01-01T00:00")  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------------
# The loader on hand-written tables (tmp_path)
# --------------------------------------------------------------------------------------------------

HEADER = "name,value,unit,source,year,region\n"
GOOD_ROW = "f_a,1.5,kg/kg,Some Agency: Report 2024 https://example.org,2024,DE\n"


def _write(folder: Path, filename: str, text: str) -> Path:
    path = folder / filename
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("body", "line", "column", "reason"),
    [
        ("f_b,abc,kg/kg,Src 2024 https://x.org,2024,DE\n", 3, "value", "not a number"),
        ("f_b,-1,kg/kg,Src 2024 https://x.org,2024,DE\n", 3, "value", "below the minimum"),
        ("f_b,nan,kg/kg,Src 2024 https://x.org,2024,DE\n", 3, "value", "not a finite number"),
        ("f_b,1,kg/kg,,2024,DE\n", 3, "source", "empty"),
        ("f_b,1,kg/kg,Src,2024.5,DE\n", 3, "year", "not an integer"),
        ("f_b,1,kg/kg,Src,1850,DE\n", 3, "year", "below the minimum"),
        ("f_b,1,kg/kg,Src,2024\n", 3, "region", "expected 6 fields, found 5"),
        ("\n\nf_b,1,kg/kg,Src,2024,   \n", 5, "region", "empty"),
        ("f_a,2,kg/kg,Src,2024,DE\n", 3, "name", "duplicate key"),
    ],
)
def test_malformed_row_names_file_line_and_column(
    tmp_path: Path, body: str, line: int, column: str, reason: str
) -> None:
    path = _write(tmp_path, "widgets_v1.csv", HEADER + GOOD_ROW + body)
    with pytest.raises(ConfigError) as info:
        fx.load_factor_table("widgets", factors_dir=tmp_path)
    message = str(info.value)
    assert str(path) in message
    assert f"line {line}," in message
    assert f"column {column!r}" in message
    assert reason in message


def test_missing_required_column_is_reported_on_the_header_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "widgets_v1.csv", "name,value,unit,year,region\nf,1,kg,2024,DE\n")
    with pytest.raises(ConfigError, match=rf"{re.escape(str(path))}: line 1, column 'source'"):
        fx.load_factor_table("widgets", factors_dir=tmp_path)


def test_declared_table_checks_its_extra_columns(tmp_path: Path) -> None:
    text = (
        "name,material,region,year,value,unit,boundary,source\n"
        "material_x,x,EU,2024,1.0,kgCO2e/kg,cradle-to-gate,Src 2024\n"
    )
    _write(tmp_path, "materials_v1.csv", text.replace(",boundary", "").replace(",cradle-to-gate", ""))
    with pytest.raises(ConfigError, match=r"line 1, column 'boundary': required column missing"):
        fx.load_factor_table("materials", factors_dir=tmp_path)
    _write(tmp_path, "materials_v2.csv", text)
    assert fx.material_factor("x", factors_dir=tmp_path).value == 1.0


TARIFF_HEADER = "tariff_id,band,days,start_hour,end_hour,timezone,name,region,year,value,unit,source\n"


def _tariff_row(band: str, days: str, start: int, end: int, tz: str = "Europe/Berlin") -> str:
    return f"t1,{band},{days},{start},{end},{tz},t1_{band}_{days}_{start},DE,2024,0.2,EUR/kWh,unverified: test\n"


@pytest.mark.parametrize(
    ("rows", "line", "column", "reason"),
    [
        ([("a", "mon-fri", 0, 12), ("b", "mon-fri", 11, 24), ("c", "sat-sun", 0, 24)], 3, "start_hour", "overlaps"),
        ([("a", "mon-fri", 0, 12), ("b", "mon-fri", 13, 24), ("c", "sat-sun", 0, 24)], 2, "start_hour", "12:00"),
        ([("a", "all", 0, 24), ("b", "sat-sun", 22, 6)], 3, "start_hour", "overlaps"),
        ([("a", "mon-fri", 0, 24)], 2, "start_hour", "sat-sun hours uncovered"),
        ([("a", "weekdays", 0, 24)], 2, "days", "not one of mon-fri, sat-sun, all"),
        ([("a", "all", 0, 25)], 2, "end_hour", "above the maximum"),
        ([("a", "all", 5, 5)], 2, "end_hour", "same hour"),
    ],
)
def test_tariff_coverage_errors(
    tmp_path: Path, rows: list[tuple[str, str, int, int]], line: int, column: str, reason: str
) -> None:
    _write(tmp_path, "tariffs_v1.csv", TARIFF_HEADER + "".join(_tariff_row(*r) for r in rows))
    with pytest.raises(ConfigError) as info:
        fx.load_factor_table("tariffs", factors_dir=tmp_path)
    message = str(info.value)
    assert "tariffs_v1.csv" in message
    assert f"line {line}, column {column!r}" in message
    assert reason in message


def test_tariff_with_unknown_zone_is_rejected(tmp_path: Path) -> None:
    _write(tmp_path, "tariffs_v1.csv", TARIFF_HEADER + _tariff_row("a", "all", 0, 24, tz="Mars/Olympus"))
    with pytest.raises(ConfigError, match=r"line 2, column 'timezone': unknown time zone"):
        fx.load_factor_table("tariffs", factors_dir=tmp_path)


def test_wrapping_band_tariff_loads(tmp_path: Path) -> None:
    rows = [("night", "all", 22, 6), ("day", "all", 6, 22)]
    _write(tmp_path, "tariffs_v1.csv", TARIFF_HEADER + "".join(_tariff_row(*r) for r in rows))
    schedule = fx.tariff_schedule("t1", factors_dir=tmp_path)
    assert schedule.bands["mon-fri"][23] == "night" and schedule.bands["sat-sun"][5] == "night"
    assert schedule.bands["mon-fri"][6] == "day"


def test_missing_table_lists_the_available_ones(tmp_path: Path) -> None:
    _write(tmp_path, "alpha_v1.csv", HEADER + GOOD_ROW)
    _write(tmp_path, "alpha_v2.csv", HEADER + GOOD_ROW)
    _write(tmp_path, "beta_v1.csv", HEADER + GOOD_ROW)
    _write(tmp_path, "notes.txt", "not a table")
    with pytest.raises(AssetError) as info:
        fx.load_factor_table("gamma", factors_dir=tmp_path)
    message = str(info.value)
    assert "'gamma'" in message
    assert "available: alpha (v1, v2), beta (v1)" in message
    with pytest.raises(AssetError, match=r"no version 7 .*available: v1, v2"):
        fx.load_factor_table("alpha", 7, factors_dir=tmp_path)


def test_missing_table_in_the_shipped_folder_lists_shipped_tables() -> None:
    with pytest.raises(AssetError, match=r"available: .*grid_intensity \(v1"):
        fx.load_factor_table("grid_intensty")


def test_missing_folder_is_an_asset_error(tmp_path: Path) -> None:
    with pytest.raises(AssetError, match="folder does not exist.*available: none"):
        fx.load_factor_table("grid_intensity", factors_dir=tmp_path / "nowhere")


def test_latest_version_is_the_default(tmp_path: Path) -> None:
    _write(tmp_path, "alpha_v1.csv", HEADER + GOOD_ROW)
    _write(tmp_path, "alpha_v2.csv", HEADER + GOOD_ROW.replace(",1.5,", ",2.5,"))
    _write(tmp_path, "alpha_v10.csv", HEADER + GOOD_ROW.replace(",1.5,", ",10.5,"))
    assert fx.load_factor_table("alpha", factors_dir=tmp_path)["value"].to_list() == [10.5]
    assert fx.load_factor_table("alpha", 2, factors_dir=tmp_path)["value"].to_list() == [2.5]


def test_edited_file_is_read_again(tmp_path: Path) -> None:
    path = _write(tmp_path, "alpha_v1.csv", HEADER + GOOD_ROW)
    assert fx.load_factor_table("alpha", factors_dir=tmp_path).height == 1
    path.write_text(HEADER + GOOD_ROW + GOOD_ROW.replace("f_a", "f_b"), encoding="utf-8")
    assert fx.load_factor_table("alpha", factors_dir=tmp_path).height == 2


def test_bad_version_argument(tmp_path: Path) -> None:
    _write(tmp_path, "alpha_v1.csv", HEADER + GOOD_ROW)
    with pytest.raises(ConfigError, match="positive integer"):
        fx.load_factor_table("alpha", 0, factors_dir=tmp_path)


def test_unreadable_and_broken_csv_are_twin_errors(tmp_path: Path) -> None:
    (tmp_path / "bin_v1.csv").write_bytes(b"name,value\n\xff\xfe\x00bad\n")
    with pytest.raises(TwinError):
        fx.load_factor_table("bin", factors_dir=tmp_path)
    _write(tmp_path, "quote_v1.csv", HEADER + 'f,1,kg,"unterminated,2024,DE\n')
    with pytest.raises(ConfigError, match=r"quote_v1.csv: line \d+"):
        fx.load_factor_table("quote", factors_dir=tmp_path)
    _write(tmp_path, "empty_v1.csv", "")
    with pytest.raises(ConfigError, match="line 1"):
        fx.load_factor_table("empty", factors_dir=tmp_path)


def test_extra_columns_are_kept_as_text(tmp_path: Path) -> None:
    _write(tmp_path, "alpha_v1.csv", "name,value,unit,source,year,region,comment\nf,1,kg,S 2024,2024,DE,\n")
    frame = fx.load_factor_table("alpha", factors_dir=tmp_path)
    assert frame.schema["comment"] == pl.String
    assert frame["comment"].to_list() == [None]


def test_factor_rows_needs_the_provenance_columns() -> None:
    with pytest.raises(ConfigError, match="lacks provenance column"):
        fx.factor_rows(pl.DataFrame({"name": ["x"], "value": [1.0]}))
