"""One error root for the twin; every user-facing failure is a TwinError subclass.

The CLI turns a TwinError into one line on stderr and exit code 2 (bad input) without a traceback.
"""

from __future__ import annotations


class TwinError(Exception):
    """Root of every error the twin raises on purpose."""

    exit_code: int = 2


class ConfigError(TwinError):
    """A cell, scenario or sweep file (or a --set override) is malformed."""


class AssetError(TwinError):
    """A referenced asset (URDF, mesh, factor table) is missing or unreadable."""


class TelemetryError(TwinError):
    """A telemetry file cannot be read as any stream of the contract."""


class PhysicsError(TwinError):
    """The physics twin could not build or evaluate a world."""


class WarehouseError(TwinError):
    """The warehouse is missing, locked, or lacks a table a command needs."""


class InputError(TwinError):
    """A command-line value is malformed (a period, a column map, a number)."""
