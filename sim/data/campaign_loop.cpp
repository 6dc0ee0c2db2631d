// A plain C++ loop over campaign injections on the Verilated campaign bench: the same
// model the campaign runs under cocotb, with no Python and no VPI. ftvoter's campaign
// benchmark compares the campaign's speed with this one (the physical limit).
//
// Usage: campaign_loop FILE  -- FILE has one injection per line: the words of the packed
// `injection` port, least significant first, in hexadecimal. Prints one JSON line.
#include "Vftvoter_campaign_top.h"
#include "verilated.h"

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s INJECTIONS\n", argv[0]);
        return 2;
    }
    std::vector<std::vector<uint32_t>> injections;
    std::ifstream in(argv[1]);
    for (std::string line; std::getline(in, line);) {
        std::istringstream words(line);
        std::vector<uint32_t> injection;
        for (std::string word; words >> word;) injection.push_back(std::stoul(word, nullptr, 16));
        injections.push_back(injection);
    }
    const std::unique_ptr<VerilatedContext> context{new VerilatedContext};
    const std::unique_ptr<Vftvoter_campaign_top> top{new Vftvoter_campaign_top{context.get()}};
    const size_t width = sizeof(top->injection) / sizeof(uint32_t);
    uint8_t seq = 0;
    uint64_t cycles = 0;
    const auto begin = std::chrono::steady_clock::now();
    for (const auto& injection : injections) {
        for (size_t i = 0; i < width && i < injection.size(); i++) top->injection[i] = injection[i];
        top->seq = ++seq;
        for (;;) {
            top->eval();
            if (top->done && top->done_seq == seq) break;
            if (!top->eventsPending()) return 1;
            context->time(top->nextTimeSlot());
        }
        cycles += top->record[0] + 2;  // the run's cycles, and the two that start it
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
    std::printf("{\"injections\": %zu, \"cycles\": %llu, \"seconds\": %.6f}\n",
                injections.size(), (unsigned long long)cycles, seconds);
    top->final();
    return 0;
}
