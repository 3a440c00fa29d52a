"""The claims fleet: ``longboat fleet up -f examples/claims/fleet.yaml`` (what ``make demo`` runs).

- ``triage.py``: labels a claim and keeps its notes in memory bank ``claims`` (the gateway
  refuses notes with personal data the bank is not classified for);
- ``specialists.py``: fraud, coverage, payments (pays through the governed tool ``payments``)
  and notifier, the other steps of ``workflows/claim-intake.yaml``;
- ``payments.py``: the ``payments`` tool the gateway calls, with its payout ledger file;
- ``moderation.py``: an ambient agent on ``content.posted`` whose rules are policy data.
"""
