/* libsworn-repledge.so, built by CMake, embedded in the runtime. */
  .section .rodata
  .balign 16
  .globl sworn_repledge_start
sworn_repledge_start:
  .incbin SWORN_REPLEDGE_PATH
  .globl sworn_repledge_end
sworn_repledge_end:
  .section .note.GNU-stack,"",@progbits
