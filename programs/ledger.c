/* Ledger: the transaction workload of transactions.c, for millions of cycles.
 *
 * The request area (FTV_REQUESTS, 0x1000_0100) holds word 0 = the number of requests n
 * (at most 15), then n requests of four words each: op, a, b, c (transactions.c's
 * format and operations). The program runs LEDGER_ROUNDS rounds; in round r it reads
 * every request again from the I/O path, computes its result as transactions.c does,
 * adds it to account (k + r) mod 64 of a ledger in RAM, and writes result ^ r ^ that
 * account to FTV_RESULTS + 4k: the I/O goes through the voting bridge all along, and the
 * RAM it keeps changes every round. Every 64 rounds it prints one '.'. At the end it
 * prints "ledger <rounds> rounds <n> requests <e> errors digest <hex>" (digest:
 * rotate-left-3 and xor of every result written) and exits 0, or 1 if a request was bad
 * (2 with more than 15 requests, as transactions.c). On PicoRV32 in the campaign bench
 * (the example requests), a round takes about 15,900 cycles: LEDGER_ROUNDS = 700 runs about
 * 11.1 million cycles.
 */
#include <stdint.h>

#include "ftvoter.h"

#ifndef LEDGER_ROUNDS
#define LEDGER_ROUNDS 700u
#endif
#define MAX_REQUESTS ((FTV_AREA_WORDS - 1u) / 4u)
#define ACCOUNTS 64u

enum { OP_ADD = 1, OP_XOR = 2, OP_CRC = 3, OP_MAC = 4, OP_DIV = 5 };

static uint32_t ledger[ACCOUNTS];

static uint32_t crc32_words(const uint32_t *w, int n)
{
    uint32_t crc = 0xffffffffu;
    for (int i = 0; i < n; i++)
        for (int byte = 0; byte < 4; byte++) {
            crc ^= (w[i] >> (8 * byte)) & 0xffu;
            for (int k = 0; k < 8; k++)
                crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
        }
    return ~crc;
}

static uint32_t execute(const uint32_t *req, uint32_t *errors)
{
    switch (req[0]) {
    case OP_ADD: return req[1] + req[2] + req[3];
    case OP_XOR: return req[1] ^ req[2] ^ req[3];
    case OP_CRC: return crc32_words(req + 1, 3);
    case OP_MAC: return req[1] * req[2] + req[3];
    case OP_DIV: return req[2] ? req[1] / req[2] : 0xffffffffu;
    default:
        (*errors)++;
        return 0xbad00000u | (req[0] & 0xffffu);
    }
}

int main(void)
{
    uint32_t n = ftv_request_word(0), errors = 0, digest = 0;

    if (n > MAX_REQUESTS) {
        ftv_puts("ledger ");
        ftv_putu(n);
        ftv_puts(" requests: more than 15\n");
        return 2;
    }
    for (uint32_t round = 0; round < LEDGER_ROUNDS; round++) {
        for (uint32_t k = 0; k < n; k++) {
            uint32_t req[4], result, account = (k + round) % ACCOUNTS;
            for (uint32_t i = 0; i < 4; i++)
                req[i] = ftv_request_word(1 + 4 * k + i);
            result = execute(req, &errors);
            ledger[account] += result;
            result ^= round ^ ledger[account];
            ftv_put_result(k, result);
            digest = ((digest << 3) | (digest >> 29)) ^ result;
        }
        if (round % 64u == 63u)
            ftv_putc('.');
    }
    ftv_puts("\nledger ");
    ftv_putu(LEDGER_ROUNDS);
    ftv_puts(" rounds ");
    ftv_putu(n);
    ftv_puts(" requests ");
    ftv_putu(errors);
    ftv_puts(" errors digest ");
    ftv_puthex(digest);
    ftv_putc('\n');
    return errors ? 1 : 0;
}
