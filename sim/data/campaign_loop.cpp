// A plain C++ loop over campaign injections on the Verilated campaign bench: the same
// model the campaign runs under cocotb, with no Python and no VPI. ftvoter's campaign
// benchmark compares the campaign's speed with this one (the physical limit).
//
// Usage: campaign_loop FILE RESTART_BIT
//   FILE: one injection per line: its start cycle, then the words of the packed
//   `injection` port, least significant first, in hexadecimal (restart bit clear).
//   RESTART_BIT: the offset of the `restart` field in that port.
// Runs the injections in the campaign shard's order (ftvoter.sim.shard.Schedule): after a
// run that ended at cycle c, the earliest start from c + 2 on, loading the faulty copy
// from the golden one; with none left there, a restart at the earliest start. Prints one
// JSON line.
#include "Vftvoter_campaign_top.h"
#include "verilated.h"

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

int main(int argc, char** argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: %s INJECTIONS RESTART_BIT\n", argv[0]);
        return 2;
    }
    const unsigned restart_bit = std::atoi(argv[2]);
    std::vector<std::vector<uint32_t>> injections;
    std::multimap<uint64_t, size_t> pending;  // start -> injection, in plan order per start
    std::ifstream in(argv[1]);
    for (std::string line; std::getline(in, line);) {
        std::istringstream words(line);
        uint64_t start;
        if (!(words >> start)) continue;
        std::vector<uint32_t> injection;
        for (std::string word; words >> word;) injection.push_back(std::stoul(word, nullptr, 16));
        pending.emplace(start, injections.size());
        injections.push_back(injection);
    }
    const std::unique_ptr<VerilatedContext> context{new VerilatedContext};
    const std::unique_ptr<Vftvoter_campaign_top> top{new Vftvoter_campaign_top{context.get()}};
    const size_t width = sizeof(top->injection) / sizeof(uint32_t);
    uint8_t seq = 0;
    uint64_t end = 0;
    bool fresh = true;
    uint64_t cycles = 0;
    const auto begin = std::chrono::steady_clock::now();
    while (!pending.empty()) {
        auto next = fresh ? pending.end() : pending.lower_bound(end + 2);
        const bool restart = next == pending.end();
        if (restart) next = pending.begin();
        std::vector<uint32_t> injection = injections[next->second];
        pending.erase(next);
        if (restart) injection[restart_bit / 32] |= 1u << (restart_bit % 32);
        for (size_t i = 0; i < width && i < injection.size(); i++) top->injection[i] = injection[i];
        top->seq = ++seq;
        const uint64_t began = context->time();
        for (;;) {
            top->eval();
            if (top->done && top->done_seq == seq) break;
            if (!top->eventsPending()) return 1;
            context->time(top->nextTimeSlot());
        }
        // Clock cycles of the run, as a shard counts them (10 ns clock, 1 ps steps; the
        // first run starts half a period before an edge).
        cycles += (context->time() - began + 9999) / 10000;
        end = top->record[0];
        fresh = false;
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
    std::printf("{\"injections\": %zu, \"cycles\": %llu, \"seconds\": %.6f}\n",
                injections.size(), (unsigned long long)cycles, seconds);
    top->final();
    return 0;
}
