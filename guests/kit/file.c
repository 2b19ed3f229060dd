// file.c -- file descriptors: the console (fd 0..2 at start) and pipes.
//
//   proc.ofile[fd] --> struct file {type, ref, writable, pipe}
//                                                 |
//   struct pipe: ring buffer  buf[nread % N .. nwrite % N), reader/writer counts
#include "proc.h"

#define NFILE 32
#define NPIPE 8
#define PIPESIZE 512

enum ftype { FD_NONE, FD_CONSOLE, FD_PIPE };

struct pipe {
  u8 buf[PIPESIZE];
  u32 nread, nwrite;
  int readers, writers;
};

struct file {
  enum ftype type;
  int ref;
  int writable;
  struct pipe *pipe;
};

static struct file files[NFILE];
static struct pipe pipes[NPIPE];
static struct file console = {FD_CONSOLE, 1, 1, NULL};

static struct file *fd_file(int fd) {
  if (fd < 0 || fd >= NOFILE) return NULL;
  return cur->ofile[fd];
}

static void file_close(struct file *f) {
  u32 fl = irq_save();
  if (--f->ref == 0 && f->type == FD_PIPE) {
    struct pipe *pp = f->pipe;
    if (f->writable)
      pp->writers--;
    else
      pp->readers--;
    wakeup(pp);
    f->type = FD_NONE;
  }
  irq_restore(fl);
}

void file_init_proc(struct proc *p) {
  for (int fd = 0; fd < 3; fd++) {
    p->ofile[fd] = &console;
    console.ref++;
  }
}

void file_dup_all(struct proc *dst, struct proc *src) {
  u32 fl = irq_save();
  for (int fd = 0; fd < NOFILE; fd++)
    if ((dst->ofile[fd] = src->ofile[fd])) dst->ofile[fd]->ref++;
  irq_restore(fl);
}

void file_close_all(struct proc *p) {
  for (int fd = 0; fd < NOFILE; fd++)
    if (p->ofile[fd]) {
      file_close(p->ofile[fd]);
      p->ofile[fd] = NULL;
    }
}

int sys_close(int fd) {
  struct file *f = fd_file(fd);
  if (!f) return -1;
  cur->ofile[fd] = NULL;
  file_close(f);
  return 0;
}

int sys_pipe(int *fds) {
  u32 fl = irq_save();
  struct pipe *pp = NULL;
  struct file *r = NULL, *w = NULL;
  int rfd = -1, wfd = -1;
  for (int i = 0; i < NPIPE && !pp; i++)
    if (pipes[i].readers == 0 && pipes[i].writers == 0) pp = &pipes[i];
  for (int i = 0; i < NFILE; i++)
    if (files[i].type == FD_NONE && files[i].ref == 0) {
      if (!r)
        r = &files[i];
      else if (!w) {
        w = &files[i];
        break;
      }
    }
  for (int fd = 0; fd < NOFILE; fd++)
    if (!cur->ofile[fd]) {
      if (rfd < 0)
        rfd = fd;
      else if (wfd < 0) {
        wfd = fd;
        break;
      }
    }
  if (!pp || !w || wfd < 0) {
    irq_restore(fl);
    return -1;
  }
  pp->nread = pp->nwrite = 0;
  pp->readers = pp->writers = 1;
  *r = (struct file){FD_PIPE, 1, 0, pp};
  *w = (struct file){FD_PIPE, 1, 1, pp};
  cur->ofile[rfd] = r;
  cur->ofile[wfd] = w;
  fds[0] = rfd;
  fds[1] = wfd;
  irq_restore(fl);
  return 0;
}

int sys_write_fd(int fd, const char *buf, u32 n) {
  struct file *f = fd_file(fd);
  if (!f || !f->writable) return -1;
  u32 fl = irq_save();
  if (f->type == FD_CONSOLE) {
    for (u32 i = 0; i < n; i++) uart_putc(buf[i]);
  } else {
    struct pipe *pp = f->pipe;
    for (u32 i = 0; i < n; i++) {
      while (pp->nwrite - pp->nread == PIPESIZE) {
        if (pp->readers == 0) {
          irq_restore(fl);
          return -1;
        }
        wakeup(pp);
        sleep_on(pp);
      }
      pp->buf[pp->nwrite++ % PIPESIZE] = buf[i];
    }
    wakeup(pp);
  }
  irq_restore(fl);
  return n;
}

int sys_read_fd(int fd, char *buf, u32 n) {
  struct file *f = fd_file(fd);
  if (!f || f->writable) return f && f->type == FD_CONSOLE ? 0 : -1;
  u32 fl = irq_save();
  struct pipe *pp = f->pipe;
  while (pp->nread == pp->nwrite && pp->writers > 0) sleep_on(pp);
  u32 i = 0;
  while (i < n && pp->nread != pp->nwrite) buf[i++] = pp->buf[pp->nread++ % PIPESIZE];
  wakeup(pp);
  irq_restore(fl);
  return i;
}
