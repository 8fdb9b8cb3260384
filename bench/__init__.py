"""Throughput benchmarks that run the real bot stack against the loopback fake Telegram."""
