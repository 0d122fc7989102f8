"""Benchmarks: each module ``bench/bench_*.py`` has ``main(argv)``; ``make bench`` runs them all.

Speed targets are ratios against a baseline measured in the same run, never absolute timings.
"""
