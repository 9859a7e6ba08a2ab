/*
 * boot.S - shared entry code of the cputest kernels (Multiboot 0.6.96 §3.1, §3.2).
 *
 *   _start            stack, then kmain(magic, mbi)
 *   isr_stubs         256 stubs, 16 bytes apart: push a dummy error code where the CPU pushes
 *                     none (every vector except 8, 10-14, 17), push the vector, then isr_common
 *   isr_common        saves DS ES FS GS and the general registers (struct frame in cputest.h),
 *                     loads the kernel data segment, calls trap_handler(frame), and returns
 *   enter_user        IRET to ring 3 (or virtual-8086 mode) with a caller-built frame; the
 *                     kernel context is saved so that user_exit_isr / back_to_kernel resume it
 *   user_exit_isr     INT 0x81 from ring 3: return EAX to the caller of enter_user
 */
#define MB_HEADER_MAGIC   0x1BADB002
#define MB_HEADER_FLAGS   3
#define KERNEL_DS         0x10

        .section .multiboot, "a"
        .balign 4
        .long   MB_HEADER_MAGIC
        .long   MB_HEADER_FLAGS
        .long   -(MB_HEADER_MAGIC + MB_HEADER_FLAGS)

        .text
        .globl  _start
_start:
        movl    $stack_top, %esp
        cld
        pushl   $0
        popfl                   /* IF=0, IOPL=0, NT=0, AC=0 */
        subl    $8, %esp
        pushl   %ebx
        pushl   %eax
        call    kmain
1:      cli
        hlt
        jmp     1b

/* ---------------------------------------------------------------- interrupt stubs */
        .balign 16
        .globl  isr_stubs
isr_stubs:
        .set    vec, 0
        .rept   256
        .balign 16
        .if (vec == 8) || (vec == 10) || (vec == 11) || (vec == 12) || (vec == 13) || (vec == 14) || (vec == 17)
        .else
        pushl   $0
        .endif
        pushl   $vec
        jmp     isr_common
        .set    vec, vec + 1
        .endr

isr_common:
        pushl   %ds
        pushl   %es
        pushl   %fs
        pushl   %gs
        pushal
        movl    $KERNEL_DS, %eax
        movw    %ax, %ds
        movw    %ax, %es
        movw    %ax, %fs
        movw    %ax, %gs
        movl    %esp, %eax
        cld
        pushl   %eax
        call    trap_handler
        addl    $4, %esp
        popal
        popl    %gs
        popl    %fs
        popl    %es
        popl    %ds
        addl    $8, %esp
        iret

/* ---------------------------------------------------------------- ring 3 / V86 entry */
/*
 * uint32_t enter_user(const uint32_t *frame, uint32_t nwords)
 * Pushes frame[nwords-1] .. frame[0] (so frame[0] = EIP is on top) and IRETs. For a ring-3
 * frame the data segment registers are loaded from user_ds/user_es/user_fs/user_gs first.
 * Returns the EAX passed to back_to_kernel (or left in EAX by INT 0x81 from ring 3).
 */
        .globl  enter_user
enter_user:
        pushl   %ebp
        pushl   %ebx
        pushl   %esi
        pushl   %edi
        movl    %esp, user_ret_esp
        movl    20(%esp), %esi
        movl    24(%esp), %ecx
1:      pushl   -4(%esi,%ecx,4)
        loop    1b
        movw    user_es, %es
        movw    user_fs, %fs
        movw    user_gs, %gs
        movw    user_ds, %ds
        iret

/* INT 0x81 (DPL 3 interrupt gate): leave ring 3, EAX is enter_user's result. */
        .globl  user_exit_isr
user_exit_isr:
        movl    $KERNEL_DS, %ecx
        movw    %cx, %ds
/* void back_to_kernel(uint32_t result): resume the last enter_user caller (ring 0 only). */
        .globl  back_to_kernel_asm
back_to_kernel_asm:
        movl    $KERNEL_DS, %ecx
        movw    %cx, %ds
        movw    %cx, %es
        movw    %cx, %fs
        movw    %cx, %gs
        movw    %cx, %ss
        movl    user_ret_esp, %esp
        popl    %edi
        popl    %esi
        popl    %ebx
        popl    %ebp
        ret

        .globl  back_to_kernel
back_to_kernel:
        movl    4(%esp), %eax
        jmp     back_to_kernel_asm

        .data
        .globl  user_ds, user_es, user_fs, user_gs
user_ds: .long  0x23
user_es: .long  0x23
user_fs: .long  0x23
user_gs: .long  0x23
user_ret_esp: .long 0

        .bss
        .balign 16
        .skip   16384
stack_top:

        .section .note.GNU-stack, "", @progbits
