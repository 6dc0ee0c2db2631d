"""State registers with a saboteur on their D input, for fault injection.

A component that wants its registers to be fault sites keeps each one as a pair: the
register and its next value. Logic assigns the next value (combinationally; it defaults
to the register's present value, i.e. "hold"), and :meth:`StateRegisters.commit` clocks it
in. With a saboteur attached, commit stores ``((next ^ flip) & ~force) | (value & force)``:

- ``flip`` for one cycle is a single-event upset: the bits flip at that clock edge, exactly
  as if the flip-flops had been hit;
- ``force``/``value`` held for several cycles is a stuck-at fault on the stored bits.

Without a saboteur, commit is a plain ``reg <= next`` and nothing is added to the design.
"""

from amaranth.hdl import Signal, Value
from amaranth.lib import wiring
from amaranth.lib.wiring import In

__all__ = ["SaboteurSignature", "StateRegisters"]


class SaboteurSignature(wiring.Signature):
    """Control of one register's saboteur (seen from the register).

    Members
    -------
    flip : In(width)
        Bits to flip at this clock edge.
    force : In(width)
        Bits to force at this clock edge.
    value : In(width)
        Value of the forced bits.
    """

    def __init__(self, width):
        super().__init__({"flip": In(width), "force": In(width), "value": In(width)})


class StateRegisters:
    """The state registers of one component, by stable name, each with a next value.

    ``saboteurs`` maps register names to saboteur controls (interfaces of
    :class:`SaboteurSignature`); it is filled by a fault injector before elaboration.
    """

    def __init__(self):
        self._registers = {}
        self._next = {}
        self.saboteurs = {}

    def add(self, name, register):
        """Register ``register`` (a Signal) under ``name``; return its next-value signal."""
        if name in self._registers:
            raise ValueError(f"State register {name!r} is declared twice")
        self._registers[name] = register
        self._next[name] = Signal.like(register, name=f"{Value.cast(register).name}_next")
        return self._next[name]

    def __iter__(self):
        return iter(self._registers.items())

    def __getitem__(self, name):
        return self._registers[name]

    def next(self, name):
        return self._next[name]

    def hold(self, m):
        """Make every next value default to the present value (call before the logic)."""
        for name, register in self._registers.items():
            m.d.comb += self._next[name].eq(register)

    def commit(self, m):
        """Clock every next value into its register, through its saboteur if any."""
        for name, register in self._registers.items():
            value = Value.cast(self._next[name])
            saboteur = self.saboteurs.get(name)
            if saboteur is not None:
                value = ((value ^ saboteur.flip) & ~saboteur.force) | \
                        (saboteur.value & saboteur.force)
            m.d.sync += register.eq(value)
