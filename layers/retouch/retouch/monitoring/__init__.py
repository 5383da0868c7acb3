"""Health checks now; metrics, alerts and dashboards as they arrive."""
