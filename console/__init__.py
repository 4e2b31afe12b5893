"""The console: one web application for operators, regulators and the public (SPEC "Console
(web)"). It imports reports, alerts and rules, never collector or simulator: its data sources
come in through constructor arguments (`console.sources`), wired by `quantrac.web`."""
