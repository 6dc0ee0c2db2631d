"""ftvoter.boards: the lockstep demo on dev boards, through amaranth-boards and the YoWASP
tools.

- :mod:`.top`: the board top (lanes, bridge, registers, RAM, LEDs, fault button, UART);
- :mod:`.uart`: the UART management port and its 8-byte framing;
- :mod:`.console`: the host side of that port (``ftvoter console``);
- :mod:`.synth`: synthesis runs and the utilisation/Fmax report;
- :mod:`.compare`: simplex, DMR and TMR builds side by side (``ftvoter synth --compare``).
"""
