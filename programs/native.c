/* Native harness for programs built with -DFTV_NATIVE (sim/programs.py's build_native).
 *
 * Emulates the lane's I/O path memory for 0x1000_0000..0x1000_0FFF: words read what was
 * last written, or the initial image, or 0. The initial image is the file named by the
 * environment variable FTV_REQUESTS (raw little-endian words loaded at the request area,
 * 0x1000_0100, at most 64 words), the same bytes the ISS takes as its `io` image.
 * Every access is logged on stderr, one line each, in program order:
 *   "r AAAAAAAA VVVVVVVV" for a read, "w AAAAAAAA VVVVVVVV" for a write (hex).
 * Console and exit do not come here: ftvoter.h maps them to putchar() and exit().
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "ftvoter.h"

#define PATH_WORDS 1024u

static uint32_t path[PATH_WORDS];
static int loaded;

static uint32_t *word(uint32_t addr)
{
    if (!loaded) {
        const char *name = getenv("FTV_REQUESTS");
        loaded = 1;
        if (name && *name) {
            FILE *f = fopen(name, "rb");
            unsigned char bytes[4 * FTV_AREA_WORDS];
            size_t n;
            if (!f) {
                fprintf(stderr, "native: cannot open FTV_REQUESTS file %s\n", name);
                exit(98);
            }
            n = fread(bytes, 1, sizeof bytes, f);
            fclose(f);
            for (size_t i = 0; i + 3 < n; i += 4)
                path[(FTV_REQUESTS - FTV_IO_BASE) / 4 + i / 4] =
                    (uint32_t)bytes[i] | (uint32_t)bytes[i + 1] << 8 |
                    (uint32_t)bytes[i + 2] << 16 | (uint32_t)bytes[i + 3] << 24;
        }
    }
    if (addr < FTV_IO_BASE || addr - FTV_IO_BASE >= 4 * PATH_WORDS || (addr & 3)) {
        fprintf(stderr, "native: I/O access outside the emulated path at 0x%08x\n",
                (unsigned)addr);
        exit(99);
    }
    return &path[(addr - FTV_IO_BASE) / 4];
}

uint32_t ftv_native_io_read(uint32_t addr)
{
    uint32_t value = *word(addr);
    fprintf(stderr, "r %08x %08x\n", (unsigned)addr, (unsigned)value);
    return value;
}

void ftv_native_io_write(uint32_t addr, uint32_t value)
{
    *word(addr) = value;
    fprintf(stderr, "w %08x %08x\n", (unsigned)addr, (unsigned)value);
}
