// syscall.c -- int $0x80: number in eax, arguments in ebx ecx edx, result
// in eax. User pointers are checked (and demand pages faulted in) by
// user_range() before the kernel touches them.
#include "proc.h"
#include "syscall.h"

#define SECTOR 512

static int sys_map(u32 va, u32 len, int map) {
  if ((va & (PGSIZE - 1)) || len == 0 || va < USER_BASE || va + len < va || va + len > USER_TOP)
    return -1;
  if (map) return map_anon(cur->pgdir, va, PGROUNDUP(len));
  unmap_range(cur->pgdir, va, PGROUNDUP(len));
  return 0;
}

static int sys_disk(u32 lba, u32 buf, u32 n, int write) {
  if (n == 0 || n > 256 || user_range(buf, n * SECTOR) < 0) return -1;
  return write ? ata_write(lba, (void *)buf, n) : ata_read(lba, (void *)buf, n);
}

void syscall(struct trapframe *tf) {
  u32 a = tf->ebx, b = tf->ecx, c = tf->edx;
  int r = -1;
  switch (tf->eax) {
    case SYS_exit:
      exit(a);
    case SYS_write:
      if (user_range(b, c) == 0) r = sys_write_fd(a, (const char *)b, c);
      break;
    case SYS_getpid:
      r = getpid();
      break;
    case SYS_yield:
      yield();
      r = 0;
      break;
    case SYS_fork:
      r = fork();
      break;
    case SYS_wait: {
      int st = 0;
      if (a && user_range(a, 4) < 0) break;
      r = wait(&st);
      if (r >= 0 && a) *(int *)a = st;
      break;
    }
    case SYS_sbrk:
      r = sbrk(a);
      break;
    case SYS_map:
      r = sys_map(a, b, 1);
      break;
    case SYS_unmap:
      r = sys_map(a, b, 0);
      break;
    case SYS_disk_read:
      r = sys_disk(a, b, c, 0);
      break;
    case SYS_disk_write:
      r = sys_disk(a, b, c, 1);
      break;
    case SYS_disk_size:
      r = ata_sectors;
      break;
    case SYS_pipe: {
      int fds[2];
      if (user_range(a, 8) < 0) break;
      r = sys_pipe(fds);
      if (r == 0) memcpy((void *)a, fds, 8);
      break;
    }
    case SYS_read:
      if (user_range(b, c) == 0) r = sys_read_fd(a, (char *)b, c);
      break;
    case SYS_close:
      r = sys_close(a);
      break;
    case SYS_cmdline: {
      u32 n = strlen(boot_cmdline);
      if (b == 0 || user_range(a, b) < 0) break;
      u32 k = n < b - 1 ? n : b - 1;
      memcpy((void *)a, boot_cmdline, k);
      ((char *)a)[k] = 0;
      r = n;
      break;
    }
    case SYS_uptime:
      r = ticks;
      break;
    default:
      kprintf("pid %d: unknown syscall %d\n", getpid(), tf->eax);
      break;
  }
  tf->eax = r;
}
