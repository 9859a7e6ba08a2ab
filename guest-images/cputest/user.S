/*
 * user.S - ring-3 / virtual-8086 entry and exit of the cputest kernels.
 *
 *   enter_user        IRET to ring 3 (or virtual-8086 mode) with a caller-built frame; the
 *                     kernel context is saved so that user_exit_isr / back_to_kernel resume it
 *   user_exit_isr     INT 0x81 from ring 3: return EAX to the caller of enter_user
 *
 * The Multiboot header and _start are ../common/multiboot-boot.S, the interrupt stubs
 * ../common/isr-stubs.S (assembled with ISR_SAVE_SEGMENTS: struct frame in cputest.h).
 */
#define KERNEL_DS         0x10

        .text
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

        .section .note.GNU-stack, "", @progbits
