/* Memory churn: a program that writes its memory all along, small enough for a 1 KiB lane
 * RAM (ftvoter bench-resync measures the resync stop against the RAM size with it).
 *
 * ROUNDS times over a buffer of WORDS words (4 blocks of the RAMs' 16-word bitmaps), each
 * word gets the next value of a xorshift32 generator added to it: one RAM write every few
 * instructions, as a program that updates a working set does. Prints "churn <hex>" (the
 * xor of the buffer) and exits 0.
 */
#include <stdint.h>

#include "ftvoter.h"

#define WORDS  64u
#define ROUNDS 120u

/* The stack needs far less than the 1 KiB the linker script keeps free by default. */
__asm__(".globl __stack_reserve\n.set __stack_reserve, 128");

static uint32_t buffer[WORDS];

int main(void)
{
    uint32_t x = 2463534242u, sum = 0;

    for (uint32_t round = 0; round < ROUNDS; round++)
        for (uint32_t i = 0; i < WORDS; i++) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            buffer[i] += x;
        }
    for (uint32_t i = 0; i < WORDS; i++)
        sum ^= buffer[i];
    ftv_puts("churn ");
    ftv_puthex(sum);
    ftv_putc('\n');
    return 0;
}
