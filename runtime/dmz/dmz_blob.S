/* The sworn-dmz binary, built by CMake, embedded in the runtime. */
  .section .rodata
  .balign 16
  .globl sworn_dmz_start
sworn_dmz_start:
  .incbin SWORN_DMZ_PATH
  .globl sworn_dmz_end
sworn_dmz_end:
  .section .note.GNU-stack,"",@progbits
