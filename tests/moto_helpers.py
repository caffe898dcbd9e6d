"""Shared set-up for tests that run against moto in-process (no lab, no traffic)."""

from __future__ import annotations

from typing import Any


def create_http_health_check(route53: Any, reference: str = "r") -> str:
    """Create a Route 53 HTTP health check in moto; returns its id (nothing is probed)."""
    return route53.create_health_check(
        CallerReference=reference,
        HealthCheckConfig={
            "IPAddress": "192.0.2.1",
            "Port": 80,
            "Type": "HTTP",
            "ResourcePath": "/",
        },
    )["HealthCheck"]["Id"]
