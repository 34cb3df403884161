"""What operators see: OpenTelemetry spans, Prometheus metrics, structured JSON logs."""
