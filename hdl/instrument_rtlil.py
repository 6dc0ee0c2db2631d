"""The netlist rewrite behind :mod:`ftvoter.hdl.instrument`: RTLIL text in, RTLIL text out.

The input is one flattened module as Yosys' ``write_rtlil`` dumps it after ``dffunmap``,
so every flip-flop is a plain ``$dff`` cell (enables and synchronous resets are already
logic on its D input). :func:`rewrite` checks it, names the sites, adds the ports and the
state output and renames each flip-flop's D input, so that the saboteurs can be written
into each flip-flop's clocked statement of the Verilog
(:func:`ftvoter.hdl.instrument_yosys.sabotage_verilog`).

Signals (``sigspec``) are parsed into bits, least significant first. A wire bit is
``(wire, index)`` with the index as the wire is declared (``\\x [5]`` is index 5 even for
a wire declared ``[31:1]``); a constant bit is one of the characters ``0 1 x z m -``.
"""

import re
from dataclasses import dataclass

__all__ = []

#: Sequential cell types (word-level and fine-grained) other than the ``$dff`` sites.
_MEMORY_CELLS = {"$mem", "$mem_v2", "$memrd", "$memrd_v2", "$memwr", "$memwr_v2",
                 "$meminit", "$meminit_v2"}
_STATE_CELLS = {"$adff", "$adffe", "$aldff", "$aldffe", "$dffsr", "$dffsre", "$dffe",
                "$sdff", "$sdffe", "$sdffce", "$dlatch", "$adlatch", "$dlatchsr", "$sr",
                "$ff", "$fsm", "$anyinit"}
_FINE_STATE = re.compile(r"^\$_(S?DFF|DLATCH|SR|ALDFF|FF)")

#: The ports the rewrite adds, in port order: (name, direction, one bit or state-wide).
PORTS = (("ftv_flip", "input", False), ("ftv_force", "input", False),
         ("ftv_value", "input", False), ("ftv_load", "input", True),
         ("ftv_state_in", "input", False), ("ftv_state_out", "output", False))

_TOKEN = re.compile(r"\s*(\{|\}|\[\d+(?::\d+)?\]|\d+'[01xzm-]*|-?\d+|[\\$]\S+)")


@dataclass
class _Wire:
    width: int
    offset: int = 0
    upto: bool = False
    port: str = None        # "input", "output", "inout" or None
    port_id: int = 0

    def chunk(self, index):
        """Return the position (from the least significant) of declared bit ``index``."""
        return self.offset + self.width - 1 - index if self.upto else index - self.offset

    def declared(self, chunk):
        return self.offset + self.width - 1 - chunk if self.upto else self.offset + chunk


@dataclass
class _Cell:
    kind: str
    name: str
    first: int              # line number of the ``cell`` line
    connects: dict          # port name -> (line number, sigspec text)


@dataclass
class _Module:
    name: str
    lines: list
    end: int                # line number of the module's ``end``
    wires: dict
    cells: list
    aliases: list           # module-level ``connect`` (left text, right text)


def parse_sigspec(text, wires):
    """Return the bits of an RTLIL sigspec, least significant first."""
    tokens = _TOKEN.findall(text)
    if "".join(tokens) != re.sub(r"\s+", "", text):
        raise ValueError(f"Cannot parse RTLIL sigspec {text!r}")
    bits, rest = _parse_tokens(tokens, 0, wires)
    if rest != len(tokens):
        raise ValueError(f"Cannot parse RTLIL sigspec {text!r}")
    return bits


def _parse_tokens(tokens, at, wires):
    token = tokens[at]
    if token == "{":
        parts, at = [], at + 1
        while tokens[at] != "}":
            part, at = _parse_tokens(tokens, at, wires)
            parts.append(part)
        return [bit for part in reversed(parts) for bit in part], at + 1
    if "'" in token:
        size, bits = token.split("'")
        # A short constant is extended with its top bit when that is x or z, else with 0.
        fill = bits[0] if bits and bits[0] in "xzm-" else "0"
        return list(reversed(bits.rjust(int(size), fill)[-int(size):])), at + 1
    if token[0] not in "\\$":
        return list(format(int(token) & 0xFFFFFFFF, "032b")[::-1]), at + 1
    wire = wires[token]
    if at + 1 < len(tokens) and tokens[at + 1].startswith("["):
        numbers = [int(n) for n in tokens[at + 1][1:-1].split(":")]
        chunks = sorted(wire.chunk(n) for n in range(min(numbers), max(numbers) + 1))
        return [(token, wire.declared(c)) for c in chunks], at + 2
    return [(token, wire.declared(c)) for c in range(wire.width)], at + 1


def format_sigspec(bits, wires):
    """Return RTLIL sigspec text for ``bits`` (least significant first), runs merged."""
    chunks = []                 # [wire or None, first, last] / [None, constant text]
    for bit in bits:
        last = chunks[-1] if chunks else None
        if isinstance(bit, str):
            if last is not None and last[0] is None:
                last[1] += bit
            else:
                chunks.append([None, bit])
        elif (last is not None and last[0] == bit[0] and not wires[bit[0]].upto
              and last[2] + 1 == bit[1]):
            last[2] = bit[1]
        else:
            chunks.append([bit[0], bit[1], bit[1]])
    texts = []
    for chunk in reversed(chunks):
        if chunk[0] is None:
            texts.append(f"{len(chunk[1])}'{chunk[1][::-1]}")
        else:
            wire, first, last = chunk
            whole = wires[wire].offset == first and first + wires[wire].width - 1 == last
            texts.append(wire if whole and not wires[wire].upto else
                         f"{wire} [{last}]" if first == last else f"{wire} [{last}:{first}]")
    return texts[0] if len(texts) == 1 else "{ " + " ".join(texts) + " }"


def parse_modules(text):
    """Return ``{name: _Module}`` for every module of an RTLIL dump."""
    modules, module, cell = {}, None, None
    lines = text.splitlines()
    for number, line in enumerate(lines):
        words = line.split()
        if not words:
            continue
        if words[0] == "module":
            module = _Module(words[1], lines, -1, {}, [], [])
        elif module is None:
            continue
        elif words[0] == "wire":
            module.wires[words[-1]] = _parse_wire(words)
        elif words[0] == "cell":
            cell = _Cell(words[1], words[2], number, {})
            module.cells.append(cell)
        elif words[0] == "connect" and cell is not None:
            cell.connects[_plain(words[1])] = (number, line.split(None, 2)[2])
        elif words[0] == "connect":
            left, right = _split_connect(line.split(None, 1)[1], module.wires)
            module.aliases.append((left, right))
        elif words[0] == "end" and cell is not None:
            cell = None
        elif words[0] == "end":
            module.end = number
            modules[module.name], module = module, None
        elif words[0] in ("process", "memory"):
            raise ValueError(f"Netlist of {module.name} still holds a {words[0]} "
                             f"{words[-1]}")
    return modules


def _parse_wire(words):
    wire = _Wire(width=1)
    at = 1
    while at < len(words) - 1:
        key = words[at]
        if key in ("width", "offset"):
            setattr(wire, key, int(words[at + 1]))
            at += 2
        elif key in ("input", "output", "inout"):
            wire.port, wire.port_id = key, int(words[at + 1])
            at += 2
        else:
            wire.upto = wire.upto or key == "upto"
            at += 1
    return wire


def _split_connect(text, wires):
    """Split the text of a module-level ``connect`` into its two sigspecs."""
    tokens = _TOKEN.findall(text)
    depth, at = 0, 0
    while True:
        depth += {"{": 1, "}": -1}.get(tokens[at], 0)
        at += 1
        if depth == 0 and (at == len(tokens) or not tokens[at].startswith("[")):
            break
    return " ".join(tokens[:at]), " ".join(tokens[at:])


def check_cells(module, memories, blackboxes, label):
    """Return the ``$dff`` cells of ``module``; a ValueError for any other kind of state.

    ``label`` names the design in messages (the user's name for it)."""
    dffs = []
    for cell in module.cells:
        if cell.kind == "$dff":
            dffs.append(cell)
        elif cell.kind in _MEMORY_CELLS and not memories:
            continue
        elif (cell.kind in _STATE_CELLS or cell.kind in _MEMORY_CELLS
              or _FINE_STATE.match(cell.kind)):
            output = cell.connects.get("Q") or cell.connects.get("RD_DATA") or (0, "")
            driving = f" (driving {_plain(output[1])})" if output[1] else ""
            raise ValueError(f"Cell {_plain(cell.name)}{driving} of {label} is a "
                             f"{cell.kind}, which cannot be instrumented (only flip-flops "
                             f"on one clock, without asynchronous reset or load)")
        elif not cell.kind.startswith("$") or cell.kind in blackboxes:
            raise ValueError(f"Cell {_plain(cell.name)} of {label} is an "
                             f"instance of the black box {_plain(cell.kind)}, whose state "
                             f"cannot be instrumented")
    if not dffs:
        raise ValueError(f"Design {label} has no flip-flops to instrument")
    return dffs


def check_clock(module, dffs):
    """Return the name of the one clock input port all of ``dffs`` use."""
    clocks = sorted({cell.connects["CLK"][1].strip() for cell in dffs})
    if len(clocks) != 1:
        raise ValueError(f"Flip-flops must all be on one clock; found clock nets "
                         f"{', '.join(_plain(clock) for clock in clocks)}")
    [clock] = clocks
    wire = module.wires.get(clock)
    if wire is None or wire.port != "input" or wire.width != 1:
        raise ValueError(f"The flip-flops' clock must be a one-bit input port, not "
                         f"{_plain(clock)}")
    return _plain(clock)


def _plain(name):
    """A name as the user wrote it: without RTLIL's leading backslash."""
    return name[1:] if name.startswith("\\") else name


def _natural(name):
    """Sort key placing ``r2`` before ``r10``."""
    return tuple(int(part) if index % 2 else part
                 for index, part in enumerate(re.split(r"(\d+)", name)))


def _private_name(wire):
    """A readable site name for a flip-flop whose output drives no public wire."""
    text = wire.replace("$flatten\\", "").lstrip("$\\")
    return re.sub(r"[^A-Za-z0-9_.\[\]]+", "_", text).strip("_") or "ff"


def _public_names(module, q_bits):
    """Map each flip-flop output bit to ``(register name, bit index)``.

    The name is that of a public wire the bit drives: the wire on the flip-flop's output
    unless that is a top-level port and another public wire of the same width carries
    the bit in the same place (an Amaranth register driving an output port through a
    combinational assignment), names with ``$`` (Amaranth's duplicates) last; if no
    public wire carries it, a name made from Yosys' internal one.
    """
    aliases = {}
    for left, right in module.aliases:
        pairs = zip(parse_sigspec(left, module.wires), parse_sigspec(right, module.wires),
                    strict=True)
        for a, b in pairs:
            for x, y in ((a, b), (b, a)):
                if isinstance(x, tuple) and isinstance(y, tuple) and y[0][0] == "\\":
                    aliases.setdefault(x, []).append(y)
    names = {}
    for bit in q_bits:
        candidates = aliases.get(bit, [])
        if bit[0].startswith("\\"):
            candidates = [bit] + [y for y in candidates if _same_place(module, y, bit)]
        if not candidates:
            names[bit] = (_private_name(bit[0]), bit[1])
            continue
        wire, index = min(candidates, key=lambda y: (
            module.wires[y[0]].port is not None, "$" in y[0], y != bit, y[0].count("."),
            _natural(y[0])))
        names[bit] = (wire[1:], index)
    return names


def _same_place(module, bit, other):
    """Whether two wire bits sit at the same place of two wires of the same width."""
    a, b = module.wires[bit[0]], module.wires[other[0]]
    return a.width == b.width and a.chunk(bit[1]) == b.chunk(other[1])


def plan_sites(module, dffs):
    """Return ``(sites, order)``: the sites as ``(name, offset, width, lsb)`` tuples and,
    for each state bit, the ``(cell, bit of its Q)`` it comes from."""
    q_bits = {}
    for number, cell in enumerate(dffs):
        for position, bit in enumerate(parse_sigspec(cell.connects["Q"][1], module.wires)):
            q_bits[bit] = (number, position)
    registers = {}
    for bit, (name, index) in _public_names(module, q_bits).items():
        registers.setdefault(name, []).append((index, q_bits[bit]))
    sites, order, taken = [], [], set()
    for register in sorted(registers, key=_natural):
        indices = sorted(registers[register])
        runs = [[indices[0]]]
        for item in indices[1:]:
            if item[0] == runs[-1][-1][0] + 1:
                runs[-1].append(item)
            else:
                runs.append([item])
        for run in runs:
            lsb, msb = run[0][0], run[-1][0]
            name = register if len(runs) == 1 else f"{register}[{msb}:{lsb}]"
            while name in taken:
                name += "_"
            taken.add(name)
            sites.append((name, len(order), len(run), lsb))
            order.extend(source for _, source in run)
    return sites, order


def rewrite(text, top, memories, label):
    """Prepare module ``top`` of an RTLIL dump for instrumentation.

    Returns ``(text, clock, sites, ports, states)``: ``text`` is the module alone (the
    input's other modules are black boxes, which the checks reject) with the added ports,
    ``ftv_state_out`` driven, each flip-flop's D input renamed ``ftv$d$<n>`` and the wire
    ``ftv$active`` (any flip, force or load bit set). The saboteurs themselves are put in
    the Verilog by :func:`ftvoter.hdl.instrument_yosys.sabotage_verilog`, from ``states``:
    for flip-flop ``n``, the state bit of each of its bits. ``ports`` are the original
    ports, ``{name: (direction, width)}``. ``label`` names the design in error messages.
    """
    modules = parse_modules(text)
    module = modules[top]
    dffs = check_cells(module, memories, set(modules) - {top}, label)
    clock = check_clock(module, dffs)
    for name in [name for name, _, _ in PORTS] + ["ftv$active"]:
        if "\\" + name in module.wires:
            raise ValueError(f"Design {label} already has a signal named {name}")
    sites, order = plan_sites(module, dffs)
    q_bits = [parse_sigspec(cell.connects["Q"][1], module.wires) for cell in dffs]
    states = [[None] * len(bits) for bits in q_bits]
    for state, (number, position) in enumerate(order):
        states[number][position] = state
    lines = list(module.lines)
    wires, logic = _port_text(module, len(order))
    for number, cell in enumerate(dffs):
        line, d_text = cell.connects["D"]
        if "\\ftv$d$" + str(number) in module.wires:
            raise ValueError(f"Design {label} already has a signal named ftv$d${number}")
        wires.append(f"  wire width {len(q_bits[number])} \\ftv$d${number}")
        logic.append(f"  connect \\ftv$d${number} {d_text}")
        lines[line] = f"    connect \\D \\ftv$d${number}"
    q_all = format_sigspec([q_bits[n][p] for n, p in order], module.wires)
    logic.append(f"  connect \\ftv_state_out {q_all}")
    start = next(number for number, line in enumerate(lines)
                 if line.split()[:2] == ["module", top])
    ports = {_plain(name): ({"input": "i", "output": "o", "inout": "io"}[wire.port],
                            wire.width)
             for name, wire in sorted(module.wires.items(), key=lambda item: item[1].port_id)
             if wire.port is not None}
    body = (lines[start:start + 1] + wires + lines[start + 1:module.end] + logic
            + lines[module.end:module.end + 1])
    return "\n".join(body) + "\n", clock, sites, ports, states


def _port_text(module, width):
    """Return the RTLIL lines declaring the added ports and ``ftv$active``, and those of
    the cell driving ``ftv$active``."""
    last = max((wire.port_id for wire in module.wires.values()), default=0)
    wires = [f"  wire width {1 if single else width} {direction} {port_id} \\{name}"
             for port_id, (name, direction, single) in enumerate(PORTS, start=last + 1)]
    wires.append("  wire width 1 \\ftv$active")
    logic = ["  cell $reduce_or $ftv$active", "    parameter \\A_SIGNED 0",
             f"    parameter \\A_WIDTH {2 * width + 1}", "    parameter \\Y_WIDTH 1",
             "    connect \\A { \\ftv_load \\ftv_force \\ftv_flip }",
             "    connect \\Y \\ftv$active", "  end"]
    return wires, logic

