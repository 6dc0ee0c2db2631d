/* Transaction workload: requests read from the I/O path, one result each written back.
 *
 * The request area (FTV_REQUESTS, 0x1000_0100) holds word 0 = the number of requests n
 * (at most 15), then n requests of four words each: op, a, b, c. For request k the
 * program writes one result word to FTV_RESULTS + 4k (0x1000_0200 + 4k):
 *   op 1 ADD  a + b + c                      op 4 MAC  a * b + c (compiler_rt multiply)
 *   op 2 XOR  a ^ b ^ c                      op 5 DIV  a / b unsigned, 0xffffffff if b = 0
 *   op 3 CRC  CRC-32 of a, b, c as 12 little-endian bytes (zlib's CRC-32)
 *   any other op: 0xbad00000 | (op & 0xffff), counted as an error.
 * Every request word is read exactly once, in order, so the I/O trace is deterministic.
 * Prints "transactions <n> requests <e> errors digest <hex>" (digest: rotate-left-3 and
 * xor over the results) and exits 0 if no request was bad, 1 otherwise; with more than
 * 15 requests it prints that, writes no result and exits 2.
 */
#include <stdint.h>

#include "ftvoter.h"

#define MAX_REQUESTS ((FTV_AREA_WORDS - 1u) / 4u)

enum { OP_ADD = 1, OP_XOR = 2, OP_CRC = 3, OP_MAC = 4, OP_DIV = 5 };

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

int main(void)
{
    uint32_t n = ftv_request_word(0), errors = 0, digest = 0;

    if (n > MAX_REQUESTS) {
        ftv_puts("transactions ");
        ftv_putu(n);
        ftv_puts(" requests: more than 15\n");
        return 2;
    }
    for (uint32_t k = 0; k < n; k++) {
        uint32_t req[4], result;
        for (uint32_t i = 0; i < 4; i++)
            req[i] = ftv_request_word(1 + 4 * k + i);
        switch (req[0]) {
        case OP_ADD: result = req[1] + req[2] + req[3]; break;
        case OP_XOR: result = req[1] ^ req[2] ^ req[3]; break;
        case OP_CRC: result = crc32_words(req + 1, 3); break;
        case OP_MAC: result = req[1] * req[2] + req[3]; break;
        case OP_DIV: result = req[2] ? req[1] / req[2] : 0xffffffffu; break;
        default:
            result = 0xbad00000u | (req[0] & 0xffffu);
            errors++;
        }
        ftv_put_result(k, result);
        digest = ((digest << 3) | (digest >> 29)) ^ result;
    }
    ftv_puts("transactions ");
    ftv_putu(n);
    ftv_puts(" requests ");
    ftv_putu(errors);
    ftv_puts(" errors digest ");
    ftv_puthex(digest);
    ftv_putc('\n');
    return errors ? 1 : 0;
}
