/* Merge sort (top-down, recursive, with a scratch buffer) of 64 signed LCG values.
 *
 * Values: x = x * 1664525 + 1013904223, x0 = 2024, value = (int32_t)x >> 8 (signed,
 * so the comparisons exercise SLT/BLT). Prints an order-sensitive checksum before and
 * after the sort, the smallest and largest value, and whether the result is sorted and
 * a permutation (same sum and xor). Exits 0 if both hold, else 1.
 */
#include <stdint.h>

#include "ftvoter.h"

#define COUNT 64

static int32_t values[COUNT], scratch[COUNT];

static void merge_sort(int32_t *v, int32_t *tmp, int n)
{
    int half = n / 2, i = 0, j = half, k = 0;
    if (n < 2)
        return;
    merge_sort(v, tmp, half);
    merge_sort(v + half, tmp, n - half);
    while (i < half && j < n)
        tmp[k++] = v[j] < v[i] ? v[j++] : v[i++];
    while (i < half)
        tmp[k++] = v[i++];
    while (j < n)
        tmp[k++] = v[j++];
    for (k = 0; k < n; k++)
        v[k] = tmp[k];
}

static uint32_t checksum(void)
{
    uint32_t h = 0x811c9dc5u;
    for (int i = 0; i < COUNT; i++)
        h = ((h << 7) | (h >> 25)) ^ (uint32_t)values[i];
    return h;
}

int main(void)
{
    uint32_t x = 2024u, sum = 0, xor = 0, sum_after = 0, xor_after = 0;
    int sorted = 1;

    for (int i = 0; i < COUNT; i++) {
        x = x * 1664525u + 1013904223u;
        values[i] = (int32_t)x >> 8;
        sum += (uint32_t)values[i];
        xor ^= (uint32_t)values[i];
    }
    ftv_puts("sort 64 before ");
    ftv_puthex(checksum());
    merge_sort(values, scratch, COUNT);
    for (int i = 0; i < COUNT; i++) {
        sum_after += (uint32_t)values[i];
        xor_after ^= (uint32_t)values[i];
        if (i && values[i - 1] > values[i])
            sorted = 0;
    }
    ftv_puts(" after ");
    ftv_puthex(checksum());
    ftv_puts(" min ");
    ftv_putd(values[0]);
    ftv_puts(" max ");
    ftv_putd(values[COUNT - 1]);
    ftv_puts(sorted ? " sorted" : " NOT SORTED");
    ftv_puts(sum == sum_after && xor == xor_after ? " permutation\n" : " NOT A PERMUTATION\n");
    return sorted && sum == sum_after && xor == xor_after ? 0 : 1;
}
