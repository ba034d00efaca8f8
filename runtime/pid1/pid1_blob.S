/* The sworn-init binary (runtime/pid1/pid1.c), built by CMake, embedded in the runtime. */
  .section .rodata
  .balign 16
  .globl sworn_pid1_start
sworn_pid1_start:
  .incbin SWORN_PID1_PATH
  .globl sworn_pid1_end
sworn_pid1_end:
  .section .note.GNU-stack,"",@progbits
