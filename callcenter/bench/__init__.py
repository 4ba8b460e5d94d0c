"""Benchmarks shipped with the platform (`callcenter bench ...`)."""
