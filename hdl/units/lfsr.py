"""Galois linear-feedback shift register."""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..sabotage import StateRegisters

__all__ = ["GaloisLFSR", "LFSR_TAPS"]


#: Galois feedback mask of a maximal-length 32-bit LFSR (taps 32, 22, 2, 1).
LFSR_TAPS = 0x80200003


class GaloisLFSR(wiring.Component):
    """32-bit maximal-length Galois LFSR, shifting right.

    On every cycle with ``en`` set, ``state`` becomes ``(state >> 1) ^ (LFSR_TAPS if
    state[0] else 0)``; :func:`ftvoter.sim.models.lfsr_next` is the same step in Python.
    The state never becomes zero.

    Parameters
    ----------
    seed : int
        Reset value of ``state``, from 1 to 2**32 - 1.

    Members
    -------
    en : In(1)
        Advance the register this cycle.
    value : Out(32)
        The current state (the register ``state``).

    Raises
    ------
    TypeError
        If ``seed`` is not an integer.
    ValueError
        If ``seed`` is zero or does not fit in 32 bits.
    """

    en: In(1)
    value: Out(32)

    def __init__(self, seed):
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise TypeError(f"Seed must be an integer, not {seed!r}")
        if not 0 < seed < 2**32:
            raise ValueError(f"Seed must be between 1 and 2**32 - 1, not {seed!r}")
        self._seed = seed
        super().__init__()
        self.state = Signal(32, init=seed, name="state")
        self.sites = StateRegisters()
        self._state_next = self.sites.add("state", self.state)

    @property
    def seed(self):
        return self._seed

    def elaborate(self, platform):
        m = Module()
        self.sites.hold(m)
        m.d.comb += self.value.eq(self.state)
        with m.If(self.en):
            m.d.comb += self._state_next.eq((self.state >> 1) ^
                                            Mux(self.state[0], LFSR_TAPS, 0))
        self.sites.commit(m)
        return m
