"""What we ASK the twin: a scenario is a base cell plus changes, a seed, a horizon and replications.

A scenario file is ``assets/scenarios/<id>.yaml``; its id is the file stem and, once published, never
changes meaning (STYLE.md, convention 6: a revision is added beside it as ``-v2``). Validated like the
cell file: frozen pydantic models, unknown keys rejected, dimensioned numbers carry their unit in the key.
A sweep file (``assets/scenarios/sweeps/<id>.yaml``) names a base scenario and parameter ranges.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from twin.cell.spec import CalendarSpec, Pose, Spec


class AddRobot(Spec):
    """A robot added to the cell as a copy of an existing one, at its own base pose.

    The copy takes over the operation templates that ``changes.operation_robots`` assigns to it (e.g. the
    ``screw`` work of a second screwdriving robot); anything not given here is copied.
    """

    copy_of: str
    base_pose: Pose
    home_q_rad: list[float] | None = None
    speed_override: float | None = Field(default=None, gt=0.0, le=1.0)
    depreciation_per_machine_h: float | None = Field(default=None, ge=0.0)


class FaultChange(Spec):
    """MTBF/MTTR of one robot or station."""

    mtbf_h: float = Field(gt=0.0)
    mttr_min: float = Field(gt=0.0)


class Changes(Spec):
    """Changes to the base cell; every key is optional and names what it changes."""

    speed_override: float | dict[str, float] | None = None
    robots: dict[str, dict[str, Any]] = {}
    add_robots: dict[str, AddRobot] = {}
    operation_robots: dict[str, str] = {}
    station_poses: dict[str, Pose] = {}
    stations: dict[str, dict[str, Any]] = {}
    operation_order: dict[str, list[str]] = {}
    pattern_order: dict[str, list[int]] = {}
    variant_mix: dict[str, float] = {}
    buffers: dict[str, int] = {}
    shifts: CalendarSpec | None = None
    tariff_id: str | None = None
    grid_region: str | None = None
    renewable_share: float | None = Field(default=None, ge=0.0, le=1.0)
    materials: dict[str, str] = {}
    inspection_sampling: float | None = Field(default=None, gt=0.0, le=1.0)
    faults: dict[str, FaultChange] = {}
    faults_enabled: bool = True
    set: list[str] = []

    @field_validator("speed_override")
    @classmethod
    def _speed_range(cls, value: float | dict[str, float] | None) -> float | dict[str, float] | None:
        values = value.values() if isinstance(value, dict) else [] if value is None else [value]
        for v in values:
            if not 0.0 < v <= 1.0:
                raise ValueError(f"a speed override is in (0, 1], got {v:g}")
        return value

    @field_validator("buffers")
    @classmethod
    def _positive_buffers(cls, value: dict[str, int]) -> dict[str, int]:
        for name, capacity in value.items():
            if capacity < 1:
                raise ValueError(f"{name}: a buffer holds at least 1 unit, got {capacity}")
        return value

    @field_validator("variant_mix")
    @classmethod
    def _shares(cls, value: dict[str, float]) -> dict[str, float]:
        if value:
            if any(not 0.0 <= v <= 1.0 for v in value.values()):
                raise ValueError("a mix share is in [0, 1]")
            total = sum(value.values())
            if abs(total - 1.0) > 1e-6:
                raise ValueError(f"mix shares sum to {total:g}, not 1")
        return value


class ScenarioSpec(Spec):
    """One scenario file (``assets/scenarios/<id>.yaml``)."""

    id: str | None = None
    description: str = ""
    cell: str | None = None
    """The base cell file, relative to the scenario's folder or the assets folder; the sample cell when None."""
    baseline: str | None = None
    """The scenario whose twin error stands beside this one's figures; itself when None."""
    seed: int = Field(default=0, ge=0)
    horizon_days: float = Field(default=28.0, gt=0.0, le=3660.0)
    replications: int = Field(default=10, ge=1, le=10000)
    start: date | None = None
    """First local day; when None, the latest measured period of the warehouse, else the generator's first day."""
    fit_from_warehouse: bool = True
    changes: Changes = Changes()


class SweepParameter(Spec):
    """One swept parameter: a list of values (grid or random choice) or a range (random sample)."""

    values: list[Any] | None = None
    low: float | None = None
    high: float | None = None
    integer: bool = False

    @model_validator(mode="after")
    def _values_or_range(self) -> SweepParameter:
        if (self.values is None) == (self.low is None or self.high is None):
            raise ValueError("give either values: [...] or low: and high:")
        if self.values is not None and not self.values:
            raise ValueError("values must not be empty")
        if self.low is not None and self.high is not None and self.low > self.high:
            raise ValueError(f"low {self.low:g} is above high {self.high:g}")
        return self


class SweepSpec(Spec):
    """A sweep file: the base scenario and the parameters to vary.

    A parameter's name is a dotted path inside the scenario's ``changes`` (``speed_override``,
    ``speed_override.R2``, ``buffers.brackets``, ``stations.printers.count``) or, with the prefix
    ``cell.``, any cell value in ``--set`` form (``cell.robots.R1.mtbf_h``).
    """

    id: str | None = None
    description: str = ""
    scenario: str
    method: Literal["grid", "random"] = "grid"
    samples: int | None = Field(default=None, ge=1, le=100000)
    seed: int | None = Field(default=None, ge=0)
    replications: int | None = Field(default=None, ge=1, le=10000)
    horizon_days: float | None = Field(default=None, gt=0.0, le=3660.0)
    parameters: dict[str, SweepParameter]

    @model_validator(mode="after")
    def _method_fits(self) -> SweepSpec:
        if not self.parameters:
            raise ValueError("parameters: name at least one parameter")
        if self.method == "grid":
            ranged = [name for name, p in self.parameters.items() if p.values is None]
            if ranged:
                raise ValueError(f"a grid sweep needs values: [...] for every parameter; {ranged[0]} has a range")
        elif self.samples is None:
            raise ValueError("a random sweep needs samples: N")
        return self
