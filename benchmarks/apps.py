from django.apps import AppConfig


class BenchmarksConfig(AppConfig):
    """Benchmark commands: each prints figures; production code never imports this package."""

    name = "benchmarks"
