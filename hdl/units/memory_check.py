"""Check bits of a lane RAM: one parity bit per byte, kept in a memory of their own.

In DMR a rollback that finds the two lanes' copies of a word different cannot tell from
the words alone which one an upset changed. The check bits can: a word whose bytes no
longer match their parity bits changed after it was written. They are read only by the
rollback (:class:`~ftvoter.hdl.rollback.Rollback`, the words its lanes read since the
checkpoint); they never raise a ``self_error``, so a lane is not blamed for them and both
lanes stay online (the word is repaired from the other lane's copy).

Every write of the RAM writes the check bits of the bytes it writes: the bus's (by byte
strobe), the undo log's (with the old check bits it logged, ``wcheck``), a resync's and
a campaign bench's copy (the parity of the word written).
"""

from amaranth.hdl import Cat, Mux
from amaranth.lib import memory

__all__ = ["add_check_bits", "byte_parity", "check_bits"]


def byte_parity(value, nbytes):
    """The parity of each byte of ``value`` (bit ``i``: byte ``i``)."""
    return Cat(*(value.word_select(i, 8).xor() for i in range(nbytes)))


def check_bits(word, nbytes=4):
    """The check bits of ``word`` (an int): what ``mem_check`` holds for it."""
    return sum(((word >> (8 * i) & 0xFF).bit_count() & 1) << i for i in range(nbytes))


def add_check_bits(m, undo, wp, rp, read, *, depth, init, copy=None, copy_domain=None):
    """Add the check memory ``mem_check`` to the RAM being elaborated in ``m``.

    ``undo`` is the RAM's undo port (built with ``check``), ``wp`` its write port (byte
    granularity), ``rp`` the bus's read port and ``read`` a bus read accepted; ``copy``
    and ``copy_domain`` the campaign bench's copy port, if any.
    """
    nbytes = len(undo.rdata) // 8
    m.submodules.mem_check = check = memory.Memory(
        shape=nbytes, depth=depth, init=[check_bits(word, nbytes) for word in init])
    write = check.write_port(granularity=1)
    old = check.read_port(domain="comb")
    outside = check.read_port(domain="comb")
    m.d.comb += [
        write.addr.eq(wp.addr), write.en.eq(wp.en),
        write.data.eq(Mux(undo.hold & undo.wcheck_en, undo.wcheck,
                          byte_parity(wp.data, nbytes))),
        old.addr.eq(wp.addr), undo.wr_old_check.eq(old.data),
        outside.addr.eq(undo.raddr),
        undo.rbad.eq((outside.data != byte_parity(undo.rdata, nbytes)).any()),
        undo.rd.eq(read), undo.rd_addr.eq(rp.addr),
    ]
    if copy is not None:
        bench = check.write_port(domain=copy_domain)
        m.d.comb += [bench.addr.eq(copy.waddr), bench.data.eq(byte_parity(copy.wdata, nbytes)),
                     bench.en.eq(copy.we)]
