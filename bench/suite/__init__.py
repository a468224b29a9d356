"""The benchmarks: one module each, registered with harness.registry.benchmark and found on start."""
