"""Longboat beside its peers (DBOS Transact, Temporal) on one workload: ``python -m bench.peers``.

Kept free of imports: the peers' workload modules run inside the peers' own environments, which
import this package but have no Longboat installed.
"""
