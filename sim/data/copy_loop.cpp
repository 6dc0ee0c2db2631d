// A plain C++ loop over one faulty copy of a campaign bench's system, alone
// (ftvoter.hdl.campaign_copy.PlainCopy), its fault injector's inputs held at 0: the plain
// simulation speed of that copy, the limit ftvoter's campaign benchmark holds the engine
// to. Usage: copy_loop CYCLES. Prints one JSON line.
#include "Vftvoter_campaign_copy.h"
#include "verilated.h"

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s CYCLES\n", argv[0]);
        return 2;
    }
    const uint64_t cycles = std::strtoull(argv[1], nullptr, 10);
    const std::unique_ptr<VerilatedContext> context{new VerilatedContext};
    const std::unique_ptr<Vftvoter_campaign_copy> top{new Vftvoter_campaign_copy{context.get()}};
    top->rst = 1;
    for (int i = 0; i < 2; i++) {
        top->clk = 0;
        top->eval();
        top->clk = 1;
        top->eval();
    }
    top->rst = 0;
    uint64_t requests = 0;  // read, so that the outputs are used
    const auto begin = std::chrono::steady_clock::now();
    for (uint64_t cycle = 0; cycle < cycles; cycle++) {
        top->clk = 0;
        top->eval();
        top->clk = 1;
        top->eval();
        requests += top->path0_valid != 0;
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
    std::printf("{\"cycles\": %llu, \"seconds\": %.6f, \"busy_cycles\": %llu}\n",
                (unsigned long long)cycles, seconds, (unsigned long long)requests);
    top->final();
    return 0;
}
