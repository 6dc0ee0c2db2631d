"""Reference lanes (the white paper's CPU-memory units) and small peripherals.

Not to be confused with :mod:`ftvoter.hdl.lanes`, which manages lane states.
"""
