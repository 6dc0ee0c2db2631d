"""pytest configuration shared by tests/ and tb/."""

import os

# Verilator models built by the test suite are compiled with -O0: half the compile time
# of -O2, and the tests' simulations are short. `make bench` and campaigns use -O2/-O3.
os.environ.setdefault("FTVOTER_CXX_OPT", "-O0")
