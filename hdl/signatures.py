"""Bus signatures and the lane contract."""

from amaranth.hdl import Shape
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["AXI4LiteSignature", "LaneSignature", "check_lane", "AXI4_RESP_OKAY",
           "AXI4_RESP_EXOKAY", "AXI4_RESP_SLVERR", "AXI4_RESP_DECERR"]


AXI4_RESP_OKAY   = 0b00
AXI4_RESP_EXOKAY = 0b01
AXI4_RESP_SLVERR = 0b10
AXI4_RESP_DECERR = 0b11


def _check_width(what, value, *, minimum=1):
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise TypeError(f"{what} must be an integer greater than or equal to {minimum}, "
                        f"not {value!r}")


class AXI4LiteSignature(wiring.Signature):
    """AXI4-Lite bus, seen from the initiator (manager).

    Member names are the standard lower-case AXI4-Lite names, so a port flattened by
    Amaranth reads ``bus__awaddr``, ``bus__wdata``, ... A target (subordinate) uses
    ``In(AXI4LiteSignature(...))`` or ``AXI4LiteSignature(...).flip()``.

    Parameters
    ----------
    addr_width : int
        Width of ``awaddr`` and ``araddr``, in bits (byte addresses).
    data_width : int
        Width of ``wdata`` and ``rdata``: 32 or 64, as AXI4-Lite allows.

    Members
    -------
    awaddr, awprot, awvalid : Out
        Write address channel; ``awready`` : In.
    wdata, wstrb, wvalid : Out
        Write data channel (``wstrb`` has one bit per byte); ``wready`` : In.
    bresp, bvalid : In
        Write response channel; ``bready`` : Out.
    araddr, arprot, arvalid : Out
        Read address channel; ``arready`` : In.
    rdata, rresp, rvalid : In
        Read data channel; ``rready`` : Out.

    Raises
    ------
    TypeError
        If ``addr_width`` is not a positive integer or ``data_width`` is not 32 or 64.
    """

    def __init__(self, *, addr_width, data_width):
        _check_width("Address width", addr_width)
        if data_width not in (32, 64) or isinstance(data_width, bool):
            raise TypeError(f"Data width must be 32 or 64, not {data_width!r}")
        self._addr_width = addr_width
        self._data_width = data_width
        super().__init__({
            "awaddr":  Out(addr_width),
            "awprot":  Out(3),
            "awvalid": Out(1),
            "awready": In(1),
            "wdata":   Out(data_width),
            "wstrb":   Out(data_width // 8),
            "wvalid":  Out(1),
            "wready":  In(1),
            "bresp":   In(2),
            "bvalid":  In(1),
            "bready":  Out(1),
            "araddr":  Out(addr_width),
            "arprot":  Out(3),
            "arvalid": Out(1),
            "arready": In(1),
            "rdata":   In(data_width),
            "rresp":   In(2),
            "rvalid":  In(1),
            "rready":  Out(1),
        })

    @property
    def addr_width(self):
        return self._addr_width

    @property
    def data_width(self):
        return self._data_width

    def __eq__(self, other):
        return (type(other) is type(self) and
                other.addr_width == self.addr_width and
                other.data_width == self.data_width)

    def __hash__(self):
        return hash((type(self), self.addr_width, self.data_width))

    def __repr__(self):
        return f"AXI4LiteSignature(addr_width={self.addr_width}, data_width={self.data_width})"


class LaneSignature(wiring.Signature):
    """The lane contract: what every replicated compute unit exposes.

    A lane is an Amaranth component whose signature has at least these members. Every
    lane of a lockstep group gets identical inputs in the same cycle (or, in delayed
    lockstep, the same inputs a fixed number of cycles later).

    Parameters
    ----------
    addr_width, data_width : int
        Of the lane's AXI4-Lite initiator port, as in :class:`AXI4LiteSignature`.
    irq_width : int
        Number of interrupt lines into the lane.

    Members
    -------
    bus : Out(AXI4LiteSignature)
        The lane's only way to the outside world.
    irq : In(irq_width)
        Interrupt lines, delivered to all lanes in the same cycle.
    self_error : Out(1)
        The lane's own detector (parity, ECC) saying "I am broken".
    """

    def __init__(self, *, addr_width, data_width, irq_width=1):
        _check_width("Interrupt width", irq_width)
        self._bus = AXI4LiteSignature(addr_width=addr_width, data_width=data_width)
        self._irq_width = irq_width
        super().__init__({
            "bus":        Out(self._bus),
            "irq":        In(irq_width),
            "self_error": Out(1),
        })

    @property
    def addr_width(self):
        return self._bus.addr_width

    @property
    def data_width(self):
        return self._bus.data_width

    @property
    def irq_width(self):
        return self._irq_width

    def __eq__(self, other):
        return (type(other) is type(self) and
                other.addr_width == self.addr_width and
                other.data_width == self.data_width and
                other.irq_width == self.irq_width)

    def __hash__(self):
        return hash((type(self), self.addr_width, self.data_width, self.irq_width))

    def __repr__(self):
        return (f"LaneSignature(addr_width={self.addr_width}, data_width={self.data_width}, "
                f"irq_width={self.irq_width})")


def check_lane(lane):
    """Check that ``lane`` honours the lane contract and return its ``LaneSignature``.

    Extra members are allowed; ``bus``, ``irq`` and ``self_error`` must be present with
    the contract's direction and shape.

    Raises
    ------
    TypeError
        If ``lane`` is not a component, or a contract member is missing or wrong.
    """
    if not isinstance(lane, wiring.Component):
        raise TypeError(f"Lane must be a wiring.Component, not {lane!r}")
    members = lane.signature.members
    bus = members["bus"] if "bus" in members else None
    if (bus is None or not bus.is_signature or bus.flow != wiring.Out or
            not isinstance(bus.signature, AXI4LiteSignature)):
        raise TypeError(f"Lane must have a member 'bus' of Out(AXI4LiteSignature), "
                        f"not {bus!r}")
    irq = members["irq"] if "irq" in members else None
    if irq is None or irq.is_signature or irq.flow != wiring.In:
        raise TypeError(f"Lane must have a port 'irq' of In(n), not {irq!r}")
    err = members["self_error"] if "self_error" in members else None
    if err is None or err.is_signature or err.flow != wiring.Out or err.shape != 1:
        raise TypeError(f"Lane must have a port 'self_error' of Out(1), not {err!r}")
    return LaneSignature(addr_width=bus.signature.addr_width,
                         data_width=bus.signature.data_width,
                         irq_width=Shape.cast(irq.shape).width)
