"""The period report: ``report.html`` (self-contained, plots inline), CSV and JSON of every table.

Build it with :func:`twin.api.reports.report` (from a warehouse file) or
:func:`twin.report.build.build_report` (from an already loaded period).
"""
