/* ftvoter lane start-up code: the first instruction at the reset vector 0x0000_0000.
 *
 * Sets gp and sp (the stack top is the end of RAM, from link.ld), zeroes .bss, calls
 * main() and writes its return value to the EXIT register, then spins forever.
 * Nothing is copied: the whole image, .data included, is loaded into RAM before reset.
 * Every other register is set to 0 first.
 */
#ifndef FTV_RAM_BYTES
#define FTV_RAM_BYTES 16384
#endif
    /* The RAM size for link.ld: sp starts at its end. */
    .globl  __ram_size
    .set    __ram_size, FTV_RAM_BYTES

    .section .text.start, "ax"
    .globl _start
_start:
    .option push
    .option norelax
    la      gp, __global_pointer$
    .option pop
    la      sp, __stack_top
    /* Every other register starts at 0, so a lane's state after reset is the same on
     * every core and in the ISS (PicoRV32 does not reset its register file). */
    .irp r, 1, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17
    li      x\r, 0
    .endr
    .irp r, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31
    li      x\r, 0
    .endr
    la      t0, __bss_start
    la      t1, __bss_end
1:  bgeu    t0, t1, 2f
    sw      zero, 0(t0)
    addi    t0, t0, 4
    j       1b
2:  call    main                /* a0 = argc = 0, a1 = argv = NULL: zeroed above */
    li      t0, 0x10000004      /* FTV_EXIT: main's return value is the exit code */
    sw      a0, 0(t0)
3:  j       3b
