/* Integer matrix multiply: C = A * B for 8x8 matrices of int32 values in -128..127.
 *
 * A and B come from an LCG (x = x * 1664525 + 1013904223, x0 = 12345, value =
 * (int8_t)(x >> 24)). RV32I has no multiply: every product goes through compiler_rt.
 * Prints a checksum of C (rotate-left-5 and xor over the elements, row by row) and C's
 * trace in signed decimal, then checks C with an identity that needs only 8 products:
 * the sum of all of C's elements equals sum over k of (column k's sum of A) times (row k's
 * sum of B). Exits 0 if it holds, else 1.
 */
#include <stdint.h>

#include "ftvoter.h"

#define N 8

static int32_t a[N][N], b[N][N], c[N][N];

static uint32_t lcg_state = 12345u;

static int32_t lcg_value(void)
{
    lcg_state = lcg_state * 1664525u + 1013904223u;
    return (int8_t)(lcg_state >> 24);
}

int main(void)
{
    uint32_t checksum = 0;
    int32_t trace = 0, total = 0, identity = 0;
    int same;

    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++)
            a[i][j] = lcg_value();
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++)
            b[i][j] = lcg_value();

    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            int32_t sum = 0;
            for (int k = 0; k < N; k++)
                sum += a[i][k] * b[k][j];
            c[i][j] = sum;
        }

    for (int i = 0; i < N; i++) {
        for (int j = 0; j < N; j++) {
            total += c[i][j];
            checksum = ((checksum << 5) | (checksum >> 27)) ^ (uint32_t)c[i][j];
        }
        trace += c[i][i];
    }
    for (int k = 0; k < N; k++) {
        int32_t column_a = 0, row_b = 0;
        for (int i = 0; i < N; i++) {
            column_a += a[i][k];
            row_b += b[k][i];
        }
        identity += column_a * row_b;
    }
    same = total == identity;

    ftv_puts("matmul 8x8 checksum ");
    ftv_puthex(checksum);
    ftv_puts(" trace ");
    ftv_putd(trace);
    ftv_puts(same ? " ok\n" : " MISMATCH\n");
    return same ? 0 : 1;
}
