"""ftvoter simulation: Verilog export, Verilator/cocotb runner, golden models, the CLI."""
