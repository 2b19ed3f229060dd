// kit.h -- kernel-wide declarations of the guest kit.
#ifndef KIT_KIT_H
#define KIT_KIT_H
#include "types.h"
#include "arch.h"
#include "mmu.h"
#include "trap.h"

// string.c
void *memset(void *d, int c, u32 n);
void *memcpy(void *d, const void *s, u32 n);
u32 strlen(const char *s);

// printf.c (kernel console output goes to COM1)
void kprintf(const char *fmt, ...);
void panic(const char *msg) __attribute__((noreturn));
void machine_exit(u32 status) __attribute__((noreturn));

// multiboot.c
extern char boot_cmdline[256];
void multiboot_parse(u32 magic, u32 info, u32 *mem_top);

// gdt.c
void gdt_init(void);
void tss_set_esp0(u32 esp0);

// idt.c / trap.c
void idt_init(void);
void trap(struct trapframe *tf);

// pic.c / pit.c
void pic_init(void);
void pic_unmask(int irq);
void pic_eoi(int irq);
void pit_init(u32 hz);
extern volatile u32 ticks;

// uart.c
void uart_init(void);
void uart_putc(int c);

// ata.c
int ata_init(void);  // sectors on primary master, or -1
int ata_read(u32 lba, void *buf, u32 n);
int ata_write(u32 lba, const void *buf, u32 n);
extern int ata_sectors;

// kalloc.c
void kalloc_init(u32 start, u32 end);
void *kalloc(void);  // one zeroed 4 KiB page, NULL when out of memory
void kfree(void *page);
extern u32 kalloc_free_pages;

// vm.c
void vm_init(u32 mem_top);
u32 *pgdir_new(void);
void pgdir_free(u32 *pgdir);
u32 *walk(u32 *pgdir, u32 va, int create);
int map_page(u32 *pgdir, u32 va, u32 pa, u32 perm);
int map_anon(u32 *pgdir, u32 va, u32 len);
void unmap_range(u32 *pgdir, u32 va, u32 len);
int pgdir_copy(u32 *dst, u32 *src);
void switch_pgdir(u32 *pgdir);
extern u32 *kernel_pgdir;

// proc.c
struct proc;
extern struct proc *cur;
void proc_init(void);
void user_init(const u8 *image, u32 size) __attribute__((noreturn));
void yield(void);
void sleep_on(void *chan);
void wakeup(void *chan);
int fork(void);
void exit(int status) __attribute__((noreturn));
int wait(int *status);
int sbrk(int incr);
int page_fault(u32 va);
int user_range(u32 va, u32 len);
int getpid(void);

// file.c (console + pipes)
void file_init_proc(struct proc *p);
void file_dup_all(struct proc *dst, struct proc *src);
void file_close_all(struct proc *p);
int sys_write_fd(int fd, const char *buf, u32 n);
int sys_read_fd(int fd, char *buf, u32 n);
int sys_pipe(int *fds);
int sys_close(int fd);

// syscall.c
void syscall(struct trapframe *tf);
#endif
