# blob.S -- embeds a flat user image (USER_BIN, set with -DUSER_BIN="...")
# into a kernel; main.c starts it as pid 1.
.section .rodata
.balign 16
.globl user_image, user_image_end
user_image:
  .incbin USER_BIN
user_image_end:
