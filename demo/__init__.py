"""Demo and benchmark data: a realistic bank, generated column-wise and loaded with COPY.

One part per app, run in order by :func:`demo.run.seed` (the list is ``demo.run.PARTS``):

- ``demo.org``: the organisation through ``org.services``: head office (HO) → branches → two outlets each,
  relationship managers, supervisors, complaint officers and a head-office admin, all with the one demo
  password ``demo.org.DEMO_PASSWORD``;
- ``demo.customers``: N customers (≈90 % individuals, ≈10 % companies) with checksum-valid resident IDs (real
  county codes, birth date and gender agreeing with the number) or unified social credit codes, valid mobiles,
  heavy-tailed AUM (lognormal: the top 20 % hold ≈80 %), lifecycle stage, risk level, consents and tags;
  M monthly financial snapshots per customer ending at the month of ``today``, 1–4 product holdings
  (``demo.holdings``), a few interactions and follow-up tasks (``demo.interactions``).

Generation is vectorised with numpy in chunks of ``chunk_size`` customers; each chunk is turned into
COPY text and loaded by a writer thread on its own connection (``demo.loader``), so Python generates chunk
k+1 while PostgreSQL ingests chunk k. Everything is written in one transaction: a failed run leaves no
half-seeded bank behind. Identical arguments (including ``today``) give identical data.

No app imports this package (an import-linter contract); it imports the apps.
"""
