/* CRC-32 (IEEE 802.3, zlib's) over two buffers, checked against known good values.
 *
 * "123456789" with the bitwise algorithm: the standard check value 0xcbf43926.
 * 1024 bytes from an LCG (x = x * 1664525 + 1013904223, x0 = 1, byte = x >> 24) with a
 * table built at run time: 0x9095e70c, computed independently with Python's zlib.crc32.
 * Prints both and exits 0 if both match, else 1.
 */
#include <stdint.h>

#include "ftvoter.h"

#define BUF_BYTES 1024u

static uint32_t table[256];
static uint8_t buffer[BUF_BYTES];

static uint32_t crc32_bitwise(const uint8_t *p, uint32_t n)
{
    uint32_t crc = 0xffffffffu;
    while (n--) {
        crc ^= *p++;
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

static void crc32_table_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1u) ? (c >> 1) ^ 0xedb88320u : c >> 1;
        table[i] = c;
    }
}

static uint32_t crc32_table(const uint8_t *p, uint32_t n)
{
    uint32_t crc = 0xffffffffu;
    while (n--)
        crc = table[(crc ^ *p++) & 0xffu] ^ (crc >> 8);
    return ~crc;
}

static int report(const char *what, uint32_t got, uint32_t want)
{
    ftv_puts("crc32(");
    ftv_puts(what);
    ftv_puts(") = ");
    ftv_puthex(got);
    ftv_puts(got == want ? " ok\n" : " BAD\n");
    return got == want;
}

int main(void)
{
    static const char check[] = "123456789";
    uint32_t x = 1;
    int ok;

    for (uint32_t i = 0; i < BUF_BYTES; i++) {
        x = x * 1664525u + 1013904223u;
        buffer[i] = (uint8_t)(x >> 24);
    }
    crc32_table_init();
    ok = report("\"123456789\"", crc32_bitwise((const uint8_t *)check, 9), 0xcbf43926u);
    ok &= report("lcg 1024", crc32_table(buffer, BUF_BYTES), 0x9095e70cu);
    return ok ? 0 : 1;
}
