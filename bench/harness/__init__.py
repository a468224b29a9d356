"""The benchmark harness: servers, load generation, CPU accounting, results and their report."""
