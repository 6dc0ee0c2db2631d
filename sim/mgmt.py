"""The register driver in cocotb simulation: transports for
:class:`~ftvoter.boards.driver.RegisterDriver`.

- :class:`AxiLiteTransport`: cocotbext-axi's ``AxiLiteMaster`` on an AXI4-Lite port of the
  design, the bridge's ``mgmt`` (:func:`mgmt_driver` makes the driver in one call);
- :class:`UARTTransport`: a board's UART management port, through cocotbext-uart's
  ``UartSource`` and ``UartSink``, with the framing of :mod:`ftvoter.boards.console`
  (:func:`uart_driver`).

Both are coroutines all the way down, as cocotb wants; the driver above them is the one a
board's console uses.
"""

from cocotbext.axi import AxiLiteBus, AxiLiteMaster, AxiResp

from ftvoter.boards.console import check_response, request
from ftvoter.boards.driver import AccessError, RegisterDriver

__all__ = ["AxiLiteTransport", "mgmt_driver", "UARTTransport", "uart_driver"]


class AxiLiteTransport:
    """Register access through a cocotbext-axi ``AxiLiteMaster``: 32-bit reads and writes
    at byte offsets; a response other than OKAY raises
    :class:`~ftvoter.boards.driver.AccessError` naming it (``"... SLVERR"``)."""

    def __init__(self, master):
        self.master = master

    async def read(self, offset):
        result = await self.master.read(offset, 4)
        _check(result.resp, "read", offset)
        return int.from_bytes(result.data, "little")

    async def write(self, offset, value):
        result = await self.master.write(offset, value.to_bytes(4, "little"))
        _check(result.resp, "write", offset)


def _check(resp, what, offset):
    if resp != AxiResp.OKAY:
        raise AccessError(f"{what} of register {offset:#04x}: {AxiResp(resp).name}")


def mgmt_driver(dut, prefix="mgmt_", *, clock=None, reset=None):
    """Return the :class:`~ftvoter.boards.driver.RegisterDriver` of the error registers on
    the AXI4-Lite port of ``dut`` whose signals start with ``prefix``, through a new
    ``AxiLiteMaster`` (clocked by ``clock``, default ``dut.clk``, reset by ``reset``,
    default ``dut.rst``) that logs warnings only."""
    master = AxiLiteMaster(AxiLiteBus.from_prefix(dut, prefix),
                           dut.clk if clock is None else clock,
                           dut.rst if reset is None else reset)
    master.write_if.log.setLevel("WARNING")
    master.read_if.log.setLevel("WARNING")
    return RegisterDriver(AxiLiteTransport(master))


class UARTTransport:
    """Register access to one map (``target``: ``"error"`` or ``"fault"``) through a
    board's UART management port: request frames into a cocotbext-uart ``UartSource``,
    response frames out of a ``UartSink``. An error status raises
    :class:`~ftvoter.boards.console.ManagementError`."""

    def __init__(self, source, sink, target="error"):
        if target not in ("error", "fault"):
            raise ValueError(f"Target must be 'error' or 'fault', not {target!r}")
        self.source, self.sink, self.target = source, sink, target

    async def _access(self, write, offset, data=0):
        await self.source.write(request(self.target, write, offset, data))
        answer = b""
        while len(answer) < 7:
            answer += bytes(await self.sink.read(1))
        return check_response(answer, self.target, write, offset)

    async def read(self, offset):
        return await self._access(False, offset)

    async def write(self, offset, value):
        await self._access(True, offset, value)


def uart_driver(source, sink):
    """Return the :class:`~ftvoter.boards.driver.RegisterDriver` of a simulated board's
    error and fault registers over its UART (a ``UartSource`` on its rx, a ``UartSink`` on
    its tx)."""
    return RegisterDriver(UARTTransport(source, sink, "error"),
                          faults=UARTTransport(source, sink, "fault"))
