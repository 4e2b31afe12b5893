"""alerts: findings → alert lifecycle (SQLite book) → outbox → channels (email, webhook, MQTT,
terminal). Entry point: `alerts.manager.AlertManager`; see docs/alerts.md."""
