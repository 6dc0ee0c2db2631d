"""Quick dump: a frozen lane's flip-flops and memory, read through the management port.

The same on a board (``ftvoter console --dump``, over the UART) and in simulation
(``ftvoter sim --at CYCLE:dump:LANE``): LANE_CMD FREEZE takes the lane out and stops it
(its state port holds it still), DUMP_SELECT picks the lane, its state vector or its RAM
and the first word, each read of DUMP_DATA returns a word and moves on; then LANE_CMD
INSERT brings the lane back by a live resync. The design must be built with live resync
(it has the dump window).
"""

import json

__all__ = ["quick_dump", "lane_layout", "decode_state", "dump_record", "memory_image"]


async def quick_dump(driver, lane, state_words, ram_words, *, settle=None):
    """Freeze ``lane``, read ``state_words`` words of its state vector and ``ram_words``
    of its RAM, insert it again; return ``{"state": [...], "memory": [...]}``.

    ``driver`` is a :class:`~ftvoter.boards.driver.RegisterDriver`; ``settle``, if given,
    is awaited after the freeze (a simulation waits two cycles; over a UART the next
    access comes later than that anyway).
    """
    await driver.lane_command(lane, "FREEZE")
    if settle is not None:
        await settle()
    words = {}
    for kind, count in (("state", state_words), ("memory", ram_words)):
        await driver.write("DUMP_SELECT", INDEX=0, LANE=lane, MEMORY=int(kind == "memory"))
        words[kind] = [await driver.read("DUMP_DATA") for _ in range(count)]
    await driver.lane_command(lane, "INSERT")
    return words


def lane_layout(unit):
    """The state vector of lane ``unit`` (a lane component, not elaborated before): its
    :class:`~ftvoter.hdl.lane_state.LaneState` (``names``, ``width``)."""
    import warnings

    from amaranth.hdl import UnusedElaboratable

    from ftvoter.hdl.lane_state import elaborate_with_state
    warnings.filterwarnings("ignore", category=UnusedElaboratable)
    _, state = elaborate_with_state(unit, None)
    return state


def decode_state(layout, words):
    """``{register name: value}`` from a state vector read as 32-bit words (bit 0 first)."""
    vector = sum(word << (32 * index) for index, word in enumerate(words))
    return {name: vector >> offset & ((1 << width) - 1)
            for name, offset, width in layout.names}


def memory_image(words):
    """A RAM dump as bytes (little-endian words)."""
    return b"".join(word.to_bytes(4, "little") for word in words)


def dump_record(lane, sites, memory_file, memory_bytes, **extra):
    """The JSON of a dump: the lane, ``{site: value}`` and where its memory image is."""
    return json.dumps({"lane": lane, **extra, "sites": sites, "memory": memory_file,
                       "memory_bytes": memory_bytes}, indent=1)
