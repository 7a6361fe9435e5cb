"""The production simulation on SimPy: seeded replications of a scenario with KPIs and confidence intervals."""
