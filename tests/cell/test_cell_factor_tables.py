"""A cell's own factor tables beside its file, its currency, and factor references checked when it loads.

The cell here is a copy of ``assets/cells/microfactory-v2.yaml`` in ``tmp_path/cells/``: its URDF references
resolve in the project's ``assets/`` (:func:`twin.cell.urdf.resolve_asset`), and a ``factors/`` folder beside
it holds the cell's tables.
"""

from __future__ import annotations

import re
import shutil
from datetime import datetime
from pathlib import Path

import pytest

from twin import paths
from twin.analytics.carbon import load_carbon_factors
from twin.cell import factors as fx
from twin.cell.load import load_cell
from twin.errors import ConfigError

SAMPLE = paths.CELLS_DIR / "microfactory-v2.yaml"
# How a report names the project's tables: relative to the project (``assets/factors/...``) in a checkout.
PROJECT_TABLES = (
    paths.FACTORS_DIR.relative_to(paths.PROJECT_DIR).as_posix()
    if paths.FACTORS_DIR.is_relative_to(paths.PROJECT_DIR)
    else str(paths.FACTORS_DIR)
)
GRID_HEADER = "name,region,year,value,unit,basis,source\n"
MATERIAL_HEADER = "name,material,region,year,value,unit,boundary,source\n"
TARIFF_HEADER = "tariff_id,band,days,start_hour,end_hour,timezone,name,region,year,value,unit,source\n"
NBP = "NBP table A no. 252/A/NBP/2024 of 2024-12-31"
PLN_RATE = f"cost.exchange_rates={{EUR: {{rate: 4.3, date: 2024-12-31, source: '{NBP}'}}}}"
MONDAY_9 = datetime(2026, 11, 2, 9, 0)  # de_industrial_tou: peak, 0.1915 EUR/kWh


@pytest.fixture
def cell_file(tmp_path: Path) -> Path:
    """The sample cell copied to tmp_path/cells/, with an empty factors/ folder beside it."""
    (tmp_path / "cells" / "factors").mkdir(parents=True)
    return Path(shutil.copy(SAMPLE, tmp_path / "cells" / SAMPLE.name))


def _table(cell_file: Path, filename: str, text: str) -> Path:
    path = cell_file.parent / "factors" / filename
    path.write_text(text, encoding="utf-8")
    return path


# --------------------------------------------------------------------------------------------------
# Tables beside the cell file
# --------------------------------------------------------------------------------------------------


def test_without_tables_beside_it_the_copy_uses_the_project_tables(cell_file: Path) -> None:
    shutil.rmtree(cell_file.parent / "factors")
    cell = load_cell(cell_file)
    assert fx.cell_factor_dirs(cell) == ()
    assert load_carbon_factors(cell, 2026).grid_annual == load_carbon_factors(load_cell(SAMPLE), 2026).grid_annual


def test_a_grid_row_beside_the_cell_overrides_the_project_row(cell_file: Path) -> None:
    _table(
        cell_file,
        "grid_intensity_v1.csv",
        GRID_HEADER
        + "plant_grid_DE,DE,2024,300,gCO2/kWh,direct_co2_generation_mix,Own study 2024 https://example.org\n",
    )
    cell = load_cell(cell_file)
    assert fx.cell_factor_dirs(cell) == (cell_file.parent / "factors",)
    factors = load_carbon_factors(cell, 2026)
    assert factors.grid_annual.value == 300.0
    assert factors.grid_annual.source.startswith("Own study 2024")
    assert factors.grid_annual.source.endswith(
        f"[cell table factors/grid_intensity_v1.csv, overriding {PROJECT_TABLES}/grid_intensity_v2.csv]"
    )
    # The other years and regions are the project's; the project's own folder is untouched.
    dirs = fx.cell_factor_dirs(cell)
    assert fx.grid_factor("DE", 2023, extra_dirs=dirs) == fx.grid_factor("DE", 2023)
    assert fx.grid_factor("PL", extra_dirs=dirs) == fx.grid_factor("PL")
    assert fx.grid_factor("DE").value == 363.0


def test_a_cell_row_adds_a_material_and_overrides_one_by_its_key(cell_file: Path) -> None:
    _table(
        cell_file,
        "materials_v1.csv",
        MATERIAL_HEADER
        + "material_brass,brass,EU,2020,2.6,kgCO2e/kg,cradle-to-gate,unverified: supplier estimate\n"
        + "screw_steel_epd,steel,DE,2024,2.0,kgCO2e/kg,cradle-to-gate,Supplier EPD 2024 https://example.org/epd\n",
    )
    part = next(p for p, spec in load_cell(SAMPLE).parts.items() if spec.material == "aluminium")
    cell = load_cell(cell_file, [f"parts.{part}.material=brass", "cost.materials_per_kg.brass=7.5"])
    materials = load_carbon_factors(cell, 2026).materials
    assert materials["brass"].value == 2.6 and not materials["brass"].verified
    assert materials["brass"].source.endswith("[cell table factors/materials_v1.csv]")
    assert materials["steel"].value == 2.0 and materials["steel"].verified
    assert f"overriding {PROJECT_TABLES}/materials_v1.csv" in materials["steel"].source
    merged = fx.load_factor_table("materials", extra_dirs=fx.cell_factor_dirs(cell))
    assert merged.filter(merged["material"] == "steel").height == 1  # replaced, not added beside
    with pytest.raises(ConfigError, match=r"unknown material 'brass'"):
        fx.material_factor("brass")  # the project's tables know no brass


def test_a_cell_tariff_replaces_the_whole_project_tariff_of_its_id(cell_file: Path) -> None:
    _table(
        cell_file,
        "tariffs_v1.csv",
        TARIFF_HEADER + "de_industrial_tou,flat,all,0,24,Europe/Berlin,contract_2026,DE,2026,0.21,EUR/kWh,"
        "Supply contract 2026-01 with Stadtwerke (page 3) https://example.org/contract\n",
    )
    tariff = fx.cell_tariff(load_cell(cell_file))
    assert set(tariff.weekday + tariff.weekend) == {0.21}
    assert tariff.sources == (
        "Supply contract 2026-01 with Stadtwerke (page 3) https://example.org/contract "
        f"[cell table factors/tariffs_v1.csv, overriding {PROJECT_TABLES}/tariffs_v2.csv]",
    )
    assert fx.tariff_schedule("de_industrial_tou").price_at(MONDAY_9) == 0.1915


def test_a_cell_row_clashing_with_a_project_row_it_does_not_replace_is_an_error(cell_file: Path) -> None:
    # Same name and year as the project's DE row, but filed under another region: it would override PL's
    # rows by its key (region, year) and leave two rows named grid_location_DE for 2024.
    path = _table(
        cell_file,
        "grid_intensity_v1.csv",
        GRID_HEADER + "grid_location_DE,XX,2024,1,gCO2/kWh,direct,Src 2024 https://example.org\n",
    )
    with pytest.raises(ConfigError, match=rf"{re.escape(str(path))}: duplicate key \(name='grid_location_DE'"):
        fx.grid_factor("DE", extra_dirs=fx.cell_factor_dirs(cell_file))


def test_a_malformed_cell_table_names_its_file_line_and_column(cell_file: Path) -> None:
    path = _table(cell_file, "grid_intensity_v1.csv", GRID_HEADER + "g,DE,2024,abc,gCO2/kWh,direct,Src\n")
    with pytest.raises(ConfigError, match=rf"{re.escape(str(path))}: line 2, column 'value'"):
        load_cell(cell_file)


# --------------------------------------------------------------------------------------------------
# Unknown tariff, grid region or material: rejected when the cell loads, naming the valid ids
# --------------------------------------------------------------------------------------------------


def test_unknown_tariff_fails_at_load_naming_the_valid_ids(cell_file: Path) -> None:
    _table(
        cell_file,
        "tariffs_v1.csv",
        TARIFF_HEADER + "my_contract,flat,all,0,24,Europe/Berlin,my_contract_flat,DE,2026,0.2,EUR/kWh,unverified: x\n",
    )
    with pytest.raises(ConfigError) as info:
        load_cell(cell_file, ["cost.tariff_id=nope"])
    message = str(info.value)
    assert message.startswith(f"{cell_file}: cost.tariff_id: unknown tariff 'nope'; valid: ")
    assert "de_industrial_tou" in message and "pl_industrial_flat" in message
    assert "my_contract" in message  # the cell's own tariff is valid too
    assert load_cell(cell_file, ["cost.tariff_id=my_contract"]).cost.tariff_id == "my_contract"


def test_unknown_grid_region_fails_at_load_naming_the_valid_ids(cell_file: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_cell(cell_file, ["carbon.grid_region=XX"])
    assert str(info.value) == (
        f"{cell_file}: carbon.grid_region: no grid_intensity factor for region 'XX'; "
        "valid: DE, ES, FR, GB, IT, PL, SE, US, US-CA"
    )


def test_unknown_material_fails_at_load_naming_the_valid_ids(cell_file: Path) -> None:
    part = next(iter(load_cell(SAMPLE).parts))
    with pytest.raises(ConfigError) as info:
        load_cell(cell_file, [f"parts.{part}.material=unobtainium"])
    message = str(info.value)
    assert message.startswith(
        f"{cell_file}: parts.{part}.material: unknown material 'unobtainium' in factor table 'materials'; valid: "
    )
    assert "aluminium" in message and "steel" in message


def test_unknown_consumable_and_fuel_fail_at_load(cell_file: Path) -> None:
    station = next(s for s, spec in load_cell(SAMPLE).stations.items() if spec.kind == "machine")
    with pytest.raises(ConfigError, match=rf"stations\.{station}\.consumables_kg_per_unit\.unobtainium: unknown"):
        load_cell(cell_file, [f"stations.{station}.consumables_kg_per_unit={{unobtainium: 0.1}}"])
    with pytest.raises(ConfigError, match=r"carbon\.scope1_fuels\.peat: unknown fuel 'peat'.*valid: .*natural_gas"):
        load_cell(cell_file, ["carbon.scope1_fuels={peat: 100}"])


def test_a_scenario_may_name_the_cells_own_tariff(cell_file: Path) -> None:
    from twin.scenarios.load import load_scenario

    _table(
        cell_file,
        "tariffs_v1.csv",
        TARIFF_HEADER + "my_contract,flat,all,0,24,Europe/Berlin,my_contract_flat,DE,2026,0.2,EUR/kWh,unverified: x\n",
    )
    scenario = cell_file.parent / "own-tariff-v1.yaml"
    scenario.write_text(
        f"description: own tariff\ncell: {cell_file.name}\nseed: 1\nhorizon_days: 1\nreplications: 1\n"
        "changes: {tariff_id: my_contract}\n",
        encoding="utf-8",
    )
    assert fx.cell_tariff(load_scenario(scenario).cell).weekday[0] == 0.2
    scenario.write_text(scenario.read_text().replace("my_contract", "nope"), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"changes\.tariff_id: unknown tariff 'nope'; valid: .*my_contract"):
        load_scenario(scenario)


# --------------------------------------------------------------------------------------------------
# Currency
# --------------------------------------------------------------------------------------------------


def test_a_pln_cell_with_an_eur_tariff_fails_without_a_rate(cell_file: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_cell(cell_file, ["cost.currency=PLN"])
    message = str(info.value)
    assert message.startswith(f"{cell_file}: cost.currency: tariff 'de_industrial_tou' is priced in EUR")
    assert "the cell's currency is PLN" in message
    assert "cost.exchange_rates.EUR" in message


def test_a_pln_cell_with_an_eur_tariff_converts_with_a_rate(cell_file: Path) -> None:
    cell = load_cell(cell_file, ["cost.currency=PLN", PLN_RATE])
    tariff = fx.cell_tariff(cell)
    assert tariff.unit == "PLN/kWh" and tariff.currency == "PLN"
    # Monday 09:00 is peak: 0.1915 EUR/kWh x 4.3 PLN/EUR = 0.82345 PLN/kWh.
    assert tariff.price_at(MONDAY_9) == pytest.approx(0.82345)
    assert tariff.conversion is not None and tariff.sources[-1] == tariff.conversion
    assert "1 EUR = 4.3 PLN" in tariff.conversion and "2024-12-31" in tariff.conversion and NBP in tariff.conversion
    price = fx.tariff_price_per_kwh(
        "de_industrial_tou", MONDAY_9, currency="PLN", exchange_rates=cell.cost.exchange_rates
    )
    assert price == pytest.approx(0.82345)
    assert fx.tariff_price_per_kwh("de_industrial_tou", MONDAY_9) == 0.1915  # the table's own currency


def test_a_tariff_in_the_cells_currency_needs_no_rate(cell_file: Path) -> None:
    cell = load_cell(cell_file, ["cost.currency=PLN", "cost.tariff_id=pl_industrial_flat", "carbon.grid_region=PL"])
    tariff = fx.cell_tariff(cell)
    assert tariff.unit == "PLN/kWh" and tariff.conversion is None and tariff.timezone == "Europe/Warsaw"


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("cost.exchange_rates={EUR: {rate: 4.3, date: 2024-12-31, source: ''}}", "source"),
        ("cost.exchange_rates={EUR: {rate: 0, date: 2024-12-31, source: NBP}}", "greater than 0"),
        ("cost.exchange_rates={EUR: {rate: 4.3, source: NBP}}", "date: required key is missing"),
        ("cost.exchange_rates={eur: {rate: 4.3, date: 2024-12-31, source: NBP}}", "not an ISO 4217 code"),
        ("cost.exchange_rates={PLN: {rate: 1, date: 2024-12-31, source: NBP}}", "own currency PLN to itself"),
    ],
)
def test_exchange_rates_are_validated(cell_file: Path, override: str, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_cell(cell_file, ["cost.currency=PLN", override])


def test_in_currency_names_both_currencies() -> None:
    schedule = fx.tariff_schedule("us_ca_industrial_eia")
    assert schedule.unit == "USD/kWh"
    assert fx.in_currency(schedule, "USD") is schedule
    with pytest.raises(ConfigError, match=r"priced in USD \(USD/kWh\) but the cell's currency is EUR"):
        fx.in_currency(schedule, "EUR")
