# ftvoter front door. Every target creates .venv (Python 3.11+) and installs the project
# into it when missing, so a fresh clone needs nothing but Python and network to PyPI.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.ftvoter-installed

CYCLES ?= 10000
# The default campaign: DMR and TMR, common-cause faults on plain and delayed lockstep, and
# DMR on PicoRV32 running a C program; DMR again, with rollback, on both lanes; and lanes
# removed or unplugged and inserted back by a live resync, on both lanes; and every
# flip-flop of the checker itself flipped, one bridge and a self-checking one, DMR and TMR.
CAMPAIGNS ?= campaigns/dmr.toml campaigns/tmr.toml campaigns/common-lockstep.toml \
             campaigns/common-delayed.toml campaigns/picorv32-dmr.toml \
             campaigns/dmr-rollback.toml campaigns/picorv32-dmr-rollback.toml \
             campaigns/dmr-resync.toml campaigns/picorv32-dmr-resync.toml \
             campaigns/dmr-bridge.toml campaigns/dmr-bridge-checked.toml \
             campaigns/tmr-bridge.toml campaigns/tmr-bridge-checked.toml
WAVES  ?= build/demo.fst
JOBS   ?= 2

BOARD  ?= icebreaker
LANES  ?= 2

.PHONY: help test test-long campaign sim bench synth synth-compare lint formal clean distclean

help:
	@echo "make campaign run the default fault campaigns, print their outcome tables"
	@echo "make test    run the test suite (unit tests and cocotb testbenches) but the long ones"
	@echo "make test-long  the tests marked long (more Verilator builds: CPU-lane cross-checks)"
	@echo "make sim     simulate the lockstep demo ($(CYCLES) cycles), write $(WAVES)"
	@echo "make bench   print simulation speed of the lockstep demo under Verilator"
	@echo "make synth   build the lockstep demo for BOARD=$(BOARD) (icebreaker, ulx3s), LANES=$(LANES)"
	@echo "make synth-compare  simplex, DMR and TMR builds on BOARD, and component areas"
	@echo "make lint    ruff over the Python sources"
	@echo "make formal  SymbiYosys proofs, covers and mutants of formal/ (formal/README.md)"
	@echo "make clean   remove build/ and generated reports; distclean also removes .venv"

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

test: $(STAMP)
	$(BIN)/python -m pytest -n $(JOBS) --dist loadfile -m "not long"

test-long: $(STAMP)
	$(BIN)/python -m pytest -n $(JOBS) --dist loadfile -m long

campaign: $(STAMP)
	@for spec in $(CAMPAIGNS); do \
	  $(BIN)/ftvoter campaign $$spec --fresh || exit $$?; \
	  $(BIN)/ftvoter report reports/$$(basename $$spec .toml | tr - _) || exit $$?; echo; \
	done

sim: $(STAMP)
	$(BIN)/ftvoter sim --cycles $(CYCLES) --waves $(WAVES)

bench: $(STAMP)
	$(BIN)/ftvoter bench
	$(BIN)/ftvoter bench-campaign campaigns/dmr.toml
	$(BIN)/ftvoter bench-dask campaigns/dmr.toml
	$(BIN)/ftvoter bench --program programs/matmul.c --cycles 2000000
	$(BIN)/ftvoter bench-campaign campaigns/picorv32-dmr.toml --naive 20
	$(BIN)/ftvoter bench-resync
	$(BIN)/ftvoter bench-checkpoint campaigns/picorv32-dmr-ledger.toml --repeat 3

synth: $(STAMP)
	$(BIN)/ftvoter synth --board $(BOARD) --lanes $(LANES)

synth-compare: $(STAMP)
	$(BIN)/ftvoter synth --board $(BOARD) --compare

lint: $(STAMP)
	$(BIN)/ruff check .

formal: $(STAMP)
	$(BIN)/python formal/run.py

clean:
	rm -rf build
	find reports -mindepth 1 ! -name .gitkeep -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
