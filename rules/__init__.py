"""Compliance rules engine (pure, no I/O): regulation data, effective limits, evaluation.

Entry points: `rules.limits.effective_limits` / `plant_limits`, `rules.evaluate.evaluate`,
`rules.evaluate.instantaneous_series_findings`, `rules.settings.CheckSettings` (config `[checks]`).
"""
