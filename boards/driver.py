"""The host side of the register maps: one driver, the same against simulation and a board.

Glasgow's three layers: the gateware (:class:`~ftvoter.hdl.registers.ErrorRegisters`,
:class:`~ftvoter.hdl.fault_regs.FaultRegisters`), this interface, and a thin command line
on top (``ftvoter console``, whose logic is :func:`ftvoter.boards.console.console`).

The driver is asynchronous, as cocotb and amaranth.sim testbenches are: every method that
reaches the hardware is a coroutine (``await driver.read("ID")``). It reaches one register
map through a *transport*: any object with ``async read(offset) -> int`` and ``async
write(offset, value)`` (byte offsets, 32-bit values) that raises :class:`AccessError` when
the hardware answers with an error (a rejected write: SLVERR). The transports are:

- :class:`~ftvoter.sim.mgmt.AxiLiteTransport`: cocotbext-axi's ``AxiLiteMaster`` on the
  ``mgmt`` port of a simulated design (:func:`ftvoter.sim.mgmt.mgmt_driver`);
- :class:`~ftvoter.sim.mgmt.UARTTransport`: a simulated board's UART management port
  through cocotbext-uart (:func:`ftvoter.sim.mgmt.uart_driver`);
- :class:`Blocking` around a blocking transport, such as
  :class:`~ftvoter.boards.console.ManagementClient` on a real board's serial port
  (:func:`ftvoter.boards.console.uart_driver`): each access blocks the event loop until the
  board has answered, which is right for a command-line tool that runs nothing else
  (``ftvoter console`` runs the driver with ``asyncio.run``);
- in amaranth.sim, a few lines around a testbench's own AXI4-Lite read and write.

Register fields are packed and unpacked by the register map's own description
(:meth:`~ftvoter.hdl.csr.RegisterMap.encode` and :meth:`~ftvoter.hdl.csr.RegisterMap.decode`),
never by hand.
"""

from ftvoter.hdl.csr import Access, RegisterMap
from ftvoter.hdl.fault_regs import FAULT_REGISTERS
from ftvoter.hdl.registers import CAUSES, ERROR_REGISTERS, UNLOCK_KEY

__all__ = ["AccessError", "Blocking", "Fields", "Registers", "RegisterDriver"]

_SATURATED = 2**32 - 1


class AccessError(RuntimeError):
    """The hardware answered a register access with an error, or not at all."""


class Blocking:
    """The transport of a blocking one: ``read(offset)`` and ``write(offset, value)`` that
    return when the access is done. Each access blocks the event loop meanwhile.

    Parameters
    ----------
    transport : object
        With blocking ``read(offset) -> int`` and ``write(offset, value)``.
    """

    def __init__(self, transport):
        _check_transport(transport)
        self.transport = transport

    async def read(self, offset):
        return self.transport.read(offset)

    async def write(self, offset, value):
        self.transport.write(offset, value)


class Fields(dict):
    """The decoded fields of a register value: a dict of field name to value (an integer,
    or the enum name for fields with an enum), whose fields are also attributes
    (``fields.KIND``). ``register`` is the register's name, ``value`` the raw value."""

    def __init__(self, register, value, decoded):
        super().__init__(decoded)
        self.register, self.value = register, value

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"Register {self.register} has no field {name!r}") from None

    def __repr__(self):
        return f"{self.register}({', '.join(f'{k}={v!r}' for k, v in self.items())})"


class Registers:
    """Read and write the registers of one map by name, through a transport.

    Parameters
    ----------
    transport : object
        With ``async read(offset)`` and ``async write(offset, value)``.
    regmap : RegisterMap

    Raises
    ------
    TypeError
        If ``transport`` lacks ``read`` or ``write``, or ``regmap`` is not a
        :class:`~ftvoter.hdl.csr.RegisterMap`.
    """

    def __init__(self, transport, regmap):
        _check_transport(transport)
        if not isinstance(regmap, RegisterMap):
            raise TypeError(f"Register map must be a RegisterMap, not {regmap!r}")
        self.transport, self.regmap = transport, regmap

    async def read(self, name):
        """Read the register ``name``; return its value."""
        return await self.transport.read(self.regmap[name].offset)

    async def write(self, name, value=None, /, **fields):
        """Write the register ``name``: ``value``, or the value made of ``fields`` (field
        names to integers or enum names, as :meth:`~ftvoter.hdl.csr.RegisterMap.encode`;
        fields not named are 0).

        Raises
        ------
        TypeError
            If both a value and fields are given.
        ValueError
            If ``value`` is not a 32-bit integer, and as
            :meth:`~ftvoter.hdl.csr.RegisterMap.encode`.
        AccessError
            If the hardware rejected the write.
        """
        await self.transport.write(self.regmap[name].offset, self._value(name, value, fields))

    def _value(self, name, value, fields):
        """The value to write: ``value``, checked, or the one made of ``fields``."""
        if value is None:
            return self.regmap.encode(name, **fields)
        if fields:
            raise TypeError(f"Write {name} a value or fields, not both: {value!r} and "
                            f"{fields!r}")
        if not isinstance(value, int) or not 0 <= value < 2**32:
            raise ValueError(f"Register {name} value must be a 32-bit integer, not {value!r}")
        return value

    async def fields(self, name):
        """Read the register ``name``; return its decoded :class:`Fields`."""
        value = await self.read(name)
        return Fields(name, value, self.regmap.decode(name, value))

    async def clear(self, name, *fields):
        """Clear the sticky (RW1C) ``fields`` of the register ``name`` (all of them if none
        is named) by writing ones to them.

        Raises
        ------
        ValueError
            If the register has no RW1C fields, or a field named is not one of them.
        """
        sticky = {f.name: f for f in self.regmap[name].fields if f.access is Access.RW1C}
        if not sticky:
            raise ValueError(f"Register {name} has no RW1C fields")
        for field in fields:
            if field not in sticky:
                raise ValueError(f"Register {name} has no RW1C field {field!r}")
        await self.write(name, **{field.name: 2**field.width - 1 for field in sticky.values()
                                  if not fields or field.name in fields})


class RegisterDriver(Registers):
    """The error registers (:data:`~ftvoter.hdl.registers.ERROR_REGISTERS`) and, on a
    board, the fault registers (:data:`~ftvoter.hdl.fault_regs.FAULT_REGISTERS`), for what
    an operator and a test do: lane states and commands, causes, the event log, faults.

    Parameters
    ----------
    transport : object
        The error registers' transport (see the module's description).
    faults : object, optional
        The fault registers' transport; :attr:`faults` is then their :class:`Registers`,
        otherwise ``None``.

    Raises
    ------
    TypeError
        If a transport lacks ``read`` or ``write``.
    """

    def __init__(self, transport, *, faults=None):
        super().__init__(transport, ERROR_REGISTERS)
        self.faults = None if faults is None else Registers(faults, FAULT_REGISTERS)
        self._lanes = None

    async def write_protected(self, name, value=None, /, **fields):
        """Write UNLOCK's key, then the protected register ``name`` (CONTROL or LANE_CMD)
        as :meth:`~Registers.write` does: on the management port, a protected write is
        accepted only right after the key (one write per unlock). The value is checked
        before UNLOCK is written."""
        value = self._value(name, value, fields)
        await self.write("UNLOCK", KEY=UNLOCK_KEY)
        await self.write(name, value)

    async def lane_states(self, lanes=None):
        """Return the states of the first ``lanes`` lanes (default: the build's lanes, from
        FEATURES.LANES) by name: ``["ONLINE", "BROKEN"]``."""
        if lanes is None:
            if self._lanes is None:
                self._lanes = (await self.fields("FEATURES")).LANES
            lanes = self._lanes
        states = await self.fields("LANE_STATE")
        return [states[f"LANE{lane}"] for lane in range(lanes)]

    async def lane_command(self, lane, op):
        """Remove, insert or freeze lane ``lane`` (``op``: a LANE_CMD.OP name in any case,
        or its value), after UNLOCK."""
        await self.write_protected("LANE_CMD", LANE=lane,
                                   OP=op.upper() if isinstance(op, str) else op)

    async def resume(self):
        """Leave the halted state (CONTROL.RESUME, after UNLOCK); CONTROL.LOCK is kept."""
        lock = (await self.fields("CONTROL")).LOCK
        await self.write_protected("CONTROL", LOCK=lock, RESUME=1)

    async def set_lock(self, locked):
        """Set or clear CONTROL.LOCK (after UNLOCK)."""
        await self.write_protected("CONTROL", LOCK=int(bool(locked)))

    async def causes(self):
        """Return the names of the ERROR_CAUSE bits that are set, in bit order."""
        cause = await self.fields("ERROR_CAUSE")
        return [name for name, _ in CAUSES if cause[name]]

    async def clear_errors(self):
        """Clear every sticky error cause (ERROR_CAUSE is RW1C)."""
        await self.clear("ERROR_CAUSE")

    async def events(self):
        """Pop the events waiting in the log (EVENT_STATUS.COUNT of them); return them,
        oldest first, as EVENT's :class:`Fields` (``CYCLE``, ``LANE``, ``KIND``)."""
        count = (await self.fields("EVENT_STATUS")).COUNT
        events = [await self.fields("EVENT") for _ in range(count)]
        return [event for event in events if event.VALID]

    def _fault_registers(self):
        if self.faults is None:
            raise ValueError("This driver has no fault registers (made without faults=)")
        return self.faults

    async def disarm(self):
        """Disarm the fault registers: a programmed fault ends."""
        await self._fault_registers().write("CONTROL", 0)

    async def inject(self, site, mask=1, model=0, *, delay=16, duration=0):
        """Program a fault (model 0 flip, 1 stuck-at-0, 2 stuck-at-1; a stuck-at lasts
        ``duration`` cycles, 0 until disarmed) and arm it; return its start cycle.

        A register access over a board's UART takes thousands of clock cycles (about
        15,600 at 115,200 baud and 12 MHz), and a flip happens only if it is armed before
        its start cycle. So the start is set after the arming access: two reads of
        ``CYCLE`` measure the cycles one access takes, and the fault starts ``delay``
        cycles after three more accesses (two are needed; the third is margin for the
        host's latency). The call returns after the start cycle. The injector's counter
        stops at 2**32 - 1 (it counts cycles since reset); from then on
        :class:`AccessError` says to reset the board.

        Raises
        ------
        ValueError
            If the driver has no fault registers, or a value does not fit its field.
        AccessError
            If an access failed, or the injector's cycle counter has reached its end.
        """
        faults = self._fault_registers()
        regmap = faults.regmap
        # Every value is checked before anything is written.
        arm = regmap.encode("CONTROL", ARM=1, MODEL=model)
        setup = {"SITE": regmap.encode("SITE", INDEX=site),
                 "MASK": regmap.encode("MASK", BITS=mask),
                 "DURATION": regmap.encode("DURATION", CYCLES=duration)}
        await faults.write("CONTROL", 0)
        for name, value in setup.items():
            await faults.write(name, value)
        first = await faults.read("CYCLE")
        now = await faults.read("CYCLE")
        start = now + 3 * (now - first) + delay
        if now == _SATURATED or start >= _SATURATED:
            raise AccessError("the fault injector's cycle counter has reached its end "
                              "(2**32 cycles after reset, 6 minutes at 12 MHz): reset the "
                              "board to inject again")
        await faults.write("START", CYCLE=start)
        await faults.write("CONTROL", arm)
        # Return once the fault has started, so what is read next shows its effect.
        for _ in range(8):
            if await faults.read("CYCLE") > start:
                break
        return start


def _check_transport(transport):
    if not (callable(getattr(transport, "read", None)) and
            callable(getattr(transport, "write", None))):
        raise TypeError(f"Transport must have read and write methods, not {transport!r}")
