"""The API's read functions: what the dashboard pages show, one module per question.

- :mod:`~twin.api.read.status`: what the warehouse's published snapshot holds, what a page misses and how to
  get it, the snapshot's version, the cell as the pages need it;
- :mod:`~twin.api.read.ideal_times`: the plan's ideal cycle times ``twin dashboard`` stored for OEE;
- :mod:`~twin.api.read.kpis`: headline KPIs and their deltas, daily trends, faults, the process change;
- :mod:`~twin.api.read.quality`: control charts, capability, defect Pareto, setups, the first-pass p chart;
- :mod:`~twin.api.read.cost`, :mod:`~twin.api.read.carbon`, :mod:`~twin.api.read.energy`: breakdown tables;
- :mod:`~twin.api.read.replay`: stored replay runs, cycles, series and anomalies;
- :mod:`~twin.api.read.scenarios`: stored what-if results and their comparison with a baseline.

Period figures come from :func:`twin.api.periods.period` (the same objects ``twin oee|cost|carbon --json``
print); these functions shape them. Each read opens a short-lived read-only connection to the published
snapshot and closes it before returning. Nothing here imports Streamlit or the physics; formatting and UI
presets live in ``apps/``.
"""
