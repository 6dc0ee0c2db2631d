"""ftvoter.analysis: what campaign results mean; numpy and matplotlib only (no hdl, no
simulator).

- :mod:`.files`: the one reader of ``results.jsonl`` (each id once, bad lines set aside)
  and the atomic file writer used by sim and analysis; the outcome classes;
- :mod:`.stats`: loading a campaign folder, outcome shares with Wilson intervals,
  coverage and ISO 26262-style metrics, latency percentiles, site groups;
- :mod:`.availability`: continuous-time Markov models of simplex, HA cluster, DMR and TMR
  (availability, nines, downtime, silent corruption), PRISM export;
- :mod:`.plots` and :mod:`.report`: the PNG plots and the HTML report with
  ``summary.json``.
"""
