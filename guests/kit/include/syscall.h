// syscall.h -- system call numbers, shared by the kernel and user programs.
//
// ABI: int $0x80 with eax = number, args in ebx, ecx, edx, esi, edi;
// the result comes back in eax (negative = error).
#ifndef KIT_SYSCALL_H
#define KIT_SYSCALL_H
#define T_SYSCALL 0x80

#define SYS_exit 0        // exit(status)              -> never returns
#define SYS_write 1       // write(fd, buf, n)         -> bytes written
#define SYS_getpid 2      // getpid()                  -> pid
#define SYS_yield 3       // yield()                   -> 0
#define SYS_fork 4        // fork()                    -> child pid / 0 in child
#define SYS_wait 5        // wait(int *status)         -> pid of reaped child, -1 if none
#define SYS_sbrk 6        // sbrk(incr)                -> old break (pages are demand-faulted)
#define SYS_map 7         // map(addr, len)            -> 0; anonymous zeroed pages, eager
#define SYS_unmap 8       // unmap(addr, len)          -> 0
#define SYS_disk_read 9   // disk_read(lba, buf, nsectors)  -> 0 / -1 (512-byte sectors)
#define SYS_disk_write 10 // disk_write(lba, buf, nsectors) -> 0 / -1
#define SYS_disk_size 11  // disk_size()               -> sectors, -1 if no disk
#define SYS_pipe 12       // pipe(int fd[2])           -> 0; fd[0] read end, fd[1] write end
#define SYS_read 13       // read(fd, buf, n)          -> bytes read, 0 at EOF
#define SYS_close 14      // close(fd)                 -> 0
#define SYS_cmdline 15    // cmdline(buf, n)           -> length of the multiboot command line
#define SYS_uptime 16     // uptime()                  -> timer ticks (100 Hz)
#define NSYSCALL 17
#endif
