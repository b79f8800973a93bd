"""Metrics sources: per-version series behind console.backend.MetricsSource."""
