"""ftvoter.boards: the lockstep demo on dev boards, through amaranth-boards and the YoWASP
tools.

- :mod:`.top`: the board top (lanes, bridge, registers, RAM, LEDs, fault button, UART);
- :mod:`.lanes`: the lane kinds of a board build (the workload lane, PicoRV32 plain and
  instrumented running a program), their fault sites and path memory;
- :mod:`.rerun`: a CPU lane restarted after each run of its program;
- :mod:`.uart`: the UART management port and its 8-byte framing;
- :mod:`.driver`: the host-side register driver (registers by name, fields decoded, lane
  commands, events, fault injection) over a transport: the UART framing here, cocotbext-axi
  on ``mgmt`` in simulation (:mod:`ftvoter.sim.mgmt`);
- :mod:`.console`: the host side of that port (``ftvoter console``);
- :mod:`.synth`: synthesis runs and the utilisation/Fmax report;
- :mod:`.compare`: simplex, DMR and TMR builds side by side, and DMR with PicoRV32 lanes
  plain and instrumented (``ftvoter synth --compare``).
"""
