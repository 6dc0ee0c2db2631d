"""ftvoter gateware: lockstep comparator, majority voter, lanes and the lockstep top.

Everything here depends on Amaranth only; simulation and analysis live elsewhere.
"""
