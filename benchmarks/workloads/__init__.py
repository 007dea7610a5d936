"""Benchmark workloads. Each module has NAME, a `bytes_moved(...)` (or None) and
`build(peers) -> {framework: zero-argument callable that returns when the work is done}`."""
