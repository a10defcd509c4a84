"""The demo reconciliation: a seeded bank/ledger generator with ground truth, its ruleset,
the accuracy of a result against the truth, and the narrated `tieout demo` run.

The benchmarks (`bench/`) and the tests use the same generator and evaluator.
"""
