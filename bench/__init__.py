"""Performance benchmarks of issue #5: every figure is a ratio to a bare baseline measured in the same run."""
