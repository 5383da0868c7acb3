"""The benchmarks of docs/performance.md and the tasks data generator."""
