/* ftvoter.h: what a C program running on an ftvoter CPU lane may use.
 *
 * The lane's memory map (see programs/README.md):
 *   0x0000_0000  the lane's own RAM (code, data, stack; 16 KiB unless built otherwise)
 *   0x1000_0000  I/O path: every access goes through the voting bridge to a path
 *     +0x000     CONSOLE  32-bit write, the low byte is the character
 *     +0x004     EXIT     32-bit write of the exit code; the program then spins forever
 *     +0x100     request area, 64 words: word 0 the number of requests, then requests
 *     +0x200     results area, 64 words: one result word per request
 *   0x8000_0000  the bridge's register window (256 bytes)
 * Only aligned 32-bit accesses go to I/O (volatile uint32_t pointers).
 *
 * Built with -DFTV_NATIVE (sim/programs.py's build_native), the same program runs as a
 * host process for comparison: the console is stdout, ftv_exit() is exit(), and I/O
 * reads and writes go to the path memory that programs/native.c emulates.
 */
#ifndef FTVOTER_H
#define FTVOTER_H

#include <stdint.h>

#define FTV_IO_BASE        0x10000000u
#define FTV_CONSOLE        0x10000000u
#define FTV_EXIT           0x10000004u
#define FTV_REQUESTS       0x10000100u
#define FTV_RESULTS        0x10000200u
#define FTV_AREA_WORDS     64u
#define FTV_BRIDGE_REGS    0x80000000u

#ifdef FTV_NATIVE

#include <stdio.h>
#include <stdlib.h>

/* programs/native.c: the emulated path memory, which logs every access on stderr. */
uint32_t ftv_native_io_read(uint32_t addr);
void ftv_native_io_write(uint32_t addr, uint32_t value);

static inline uint32_t ftv_io_read(uint32_t addr) { return ftv_native_io_read(addr); }
static inline void ftv_io_write(uint32_t addr, uint32_t value)
{
    ftv_native_io_write(addr, value);
}
static inline void ftv_putc(char c) { putchar((unsigned char)c); }
static inline _Noreturn void ftv_exit(int code)
{
    fflush(stdout);
    exit(code);
}

#else

static inline uint32_t ftv_io_read(uint32_t addr)
{
    return *(volatile uint32_t *)(uintptr_t)addr;
}
static inline void ftv_io_write(uint32_t addr, uint32_t value)
{
    *(volatile uint32_t *)(uintptr_t)addr = value;
}
static inline void ftv_putc(char c) { ftv_io_write(FTV_CONSOLE, (uint8_t)c); }
static inline _Noreturn void ftv_exit(int code)
{
    ftv_io_write(FTV_EXIT, (uint32_t)code);
    for (;;) {
    }
}

#endif

static inline void ftv_puts(const char *s)
{
    while (*s)
        ftv_putc(*s++);
}

/* Eight lower-case hex digits, e.g. "cbf43926". */
static inline void ftv_puthex(uint32_t value)
{
    for (int shift = 28; shift >= 0; shift -= 4)
        ftv_putc("0123456789abcdef"[(value >> shift) & 0xf]);
}

/* Unsigned decimal (uses compiler_rt's division on RV32I). */
static inline void ftv_putu(uint32_t value)
{
    char digits[10];
    int n = 0;
    do {
        digits[n++] = (char)('0' + value % 10u);
        value /= 10u;
    } while (value);
    while (n)
        ftv_putc(digits[--n]);
}

/* Signed decimal. */
static inline void ftv_putd(int32_t value)
{
    if (value < 0) {
        ftv_putc('-');
        ftv_putu(0u - (uint32_t)value);
    } else {
        ftv_putu((uint32_t)value);
    }
}

/* Word i of the request area (word 0 is the number of requests). */
static inline uint32_t ftv_request_word(uint32_t i) { return ftv_io_read(FTV_REQUESTS + 4u * i); }

/* Result word i to the results area. */
static inline void ftv_put_result(uint32_t i, uint32_t value)
{
    ftv_io_write(FTV_RESULTS + 4u * i, value);
}

#endif
