/* plat_posix.c — POSIX implementation of include/cbas/plat.h (Linux, glibc or musl).
 * Also the fault-injection table used by tests (see plat.h). */
#define _GNU_SOURCE
#include "cbas/plat.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- fault injection: counters per operation, atomics so threads may race harmlessly ---- */
static _Atomic int fault_nth[PLAT_OP__N];
static _Atomic int fault_err[PLAT_OP__N];

void plat_fault_set(enum plat_op op, int nth, int err) { fault_err[op] = err; fault_nth[op] = nth; }
void plat_fault_clear(void) {
  for (int i = 0; i < PLAT_OP__N; i++) { fault_nth[i] = 0; fault_err[i] = 0; }
}
/* Returns the injected error for this call of op, or 0. */
static int fault_hit(enum plat_op op) {
  if (fault_nth[op] <= 0) return 0;
  if (--fault_nth[op] == 0) return fault_err[op];
  return 0;
}
int plat_err_nospc(void) { return ENOSPC; }
int plat_err_io(void) { return EIO; }
int plat_err_noent(void) { return ENOENT; }

int plat_open(const char *path, int flags, int *fd) {
  int f = 0, e = fault_hit(PLAT_OP_OPEN);
  if (e) return e;
  switch (flags & 3) { case PLAT_RDONLY: f = O_RDONLY; break; case PLAT_WRONLY: f = O_WRONLY; break; default: f = O_RDWR; }
  if (flags & PLAT_CREATE) f |= O_CREAT;
  if (flags & PLAT_TRUNC) f |= O_TRUNC;
  if (flags & PLAT_EXCL) f |= O_EXCL;
  f |= O_CLOEXEC;
  int r;
  do r = open(path, f, 0644); while (r < 0 && errno == EINTR);
  if (r < 0) return errno;
  *fd = r;
  return 0;
}
int plat_close(int fd) { return close(fd) ? errno : 0; }

int plat_pread(int fd, void *buf, size_t n, uint64_t off, size_t *got) {
  size_t done = 0;
  int e = fault_hit(PLAT_OP_READ);
  if (e == PLAT_SHORT) n = n / 2;
  else if (e) return e;
  while (done < n) {
    ssize_t r = pread(fd, (char *)buf + done, n - done, (off_t)(off + done));
    if (r < 0) { if (errno == EINTR) continue; return errno; }
    if (r == 0) break;
    done += (size_t)r;
  }
  *got = done;
  return 0;
}
int plat_pwrite(int fd, const void *buf, size_t n, uint64_t off) {
  size_t done = 0;
  int e = fault_hit(PLAT_OP_WRITE);
  if (e) return e;
  while (done < n) {
    ssize_t r = pwrite(fd, (const char *)buf + done, n - done, (off_t)(off + done));
    if (r < 0) { if (errno == EINTR) continue; return errno; }
    done += (size_t)r;
  }
  return 0;
}
int plat_fsync(int fd) {
  int e = fault_hit(PLAT_OP_FSYNC);
  if (e) return e;
  return fsync(fd) ? errno : 0;
}
int plat_fsize(int fd, uint64_t *size) {
  struct stat st;
  if (fstat(fd, &st)) return errno;
  *size = (uint64_t)st.st_size;
  return 0;
}
int plat_ftruncate(int fd, uint64_t size) { return ftruncate(fd, (off_t)size) ? errno : 0; }

int plat_stat_path(const char *path, plat_stat *out) {
  struct stat st;
  memset(out, 0, sizeof *out);
  if (stat(path, &st)) return (errno == ENOENT || errno == ENOTDIR) ? 0 : errno;
  out->exists = 1;
  out->is_dir = S_ISDIR(st.st_mode);
  out->is_file = S_ISREG(st.st_mode);
  out->size = (uint64_t)st.st_size;
  out->mtime = (double)st.st_mtim.tv_sec + 1e-9 * (double)st.st_mtim.tv_nsec;
  return 0;
}
int plat_rename(const char *from, const char *to) {
  int e = fault_hit(PLAT_OP_RENAME);
  if (e) return e;
  return rename(from, to) ? errno : 0;
}
int plat_unlink(const char *path) { return (unlink(path) && errno != ENOENT) ? errno : 0; }
int plat_rmdir(const char *path) { return (rmdir(path) && errno != ENOENT) ? errno : 0; }
int plat_mkdir(const char *path) {
  if (mkdir(path, 0755) == 0) return 0;
  if (errno == EEXIST) {
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) return 0;
    return ENOTDIR;
  }
  return errno;
}
int plat_mkdir_p(const char *path) {
  size_t n = strlen(path);
  char *p = malloc(n + 1);
  if (!p) return ENOMEM;
  memcpy(p, path, n + 1);
  for (size_t i = 1; i <= n; i++) {
    if (p[i] == '/' || p[i] == 0) {
      char c = p[i];
      p[i] = 0;
      int e = plat_mkdir(p);
      p[i] = c;
      if (e) { free(p); return e; }
    }
  }
  free(p);
  return 0;
}
int plat_fsync_dir(const char *dir) {
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errno;
  int e = fsync(fd) ? errno : 0;
  close(fd);
  return e == EINVAL ? 0 : e;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }
int plat_listdir(const char *dir, int (*cb)(void *, const char *), void *ud) {
  DIR *d = opendir(dir);
  if (!d) return errno;
  size_t n = 0, cap = 64;
  char **names = malloc(cap * sizeof *names);
  int err = names ? 0 : ENOMEM;
  struct dirent *de;
  while (!err && (de = readdir(d))) {
    if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
    if (n == cap) {
      char **nn = realloc(names, 2 * cap * sizeof *names);
      if (!nn) { err = ENOMEM; break; }
      names = nn; cap *= 2;
    }
    if (!(names[n] = strdup(de->d_name))) { err = ENOMEM; break; }
    n++;
  }
  closedir(d);
  if (!err) qsort(names, n, sizeof *names, cmp_str);
  int r = err;
  for (size_t i = 0; i < n; i++) {
    if (!r) r = cb(ud, names[i]);
    free(names[i]);
  }
  free(names);
  return r;
}

int plat_ncores(void) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n < 1 ? 1 : (int)n;
}
double plat_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
int plat_isatty(int fd) { return isatty(fd) == 1; }
uint64_t plat_peak_rss(void) {
  struct rusage ru;
  if (getrusage(RUSAGE_SELF, &ru)) return 0;
  return (uint64_t)ru.ru_maxrss * 1024u; /* Linux reports KiB */
}
int plat_pid(void) { return (int)getpid(); }
int plat_pid_alive(int pid) { return pid > 0 && (kill((pid_t)pid, 0) == 0 || errno == EPERM); }
int plat_getcwd(char *buf, size_t cap) { return getcwd(buf, cap) ? 0 : errno; }
const char *plat_strerror(int err) {
  if (err == PLAT_SHORT) return "short read";
  return strerror(err); /* musl and glibc return static text for known codes */
}

struct plat_thread { pthread_t t; };
struct plat_mutex { pthread_mutex_t m; };
int plat_thread_start(plat_thread **out, void *(*fn)(void *), void *arg) {
  plat_thread *t = malloc(sizeof *t);
  if (!t) return ENOMEM;
  pthread_attr_t at;
  pthread_attr_init(&at);
  pthread_attr_setstacksize(&at, 1u << 20); /* musl's default 128 KiB is too small for us */
  int e = pthread_create(&t->t, &at, fn, arg);
  pthread_attr_destroy(&at);
  if (e) { free(t); return e; }
  *out = t;
  return 0;
}
int plat_thread_join(plat_thread *t) {
  int e = pthread_join(t->t, NULL);
  free(t);
  return e;
}
int plat_mutex_new(plat_mutex **out) {
  plat_mutex *m = malloc(sizeof *m);
  if (!m) return ENOMEM;
  pthread_mutex_init(&m->m, NULL);
  *out = m;
  return 0;
}
void plat_mutex_free(plat_mutex *m) {
  if (!m) return;
  pthread_mutex_destroy(&m->m);
  free(m);
}
void plat_mutex_lock(plat_mutex *m) { pthread_mutex_lock(&m->m); }
void plat_mutex_unlock(plat_mutex *m) { pthread_mutex_unlock(&m->m); }

/* Large blocks: mapped directly, 2 MiB-aligned, and offered to transparent huge pages where
 * the kernel has them (MADV_HUGEPAGE; harmless where it has not): a 20 MB buffer is then
 * faulted in as 10 huge pages instead of ~5000 small ones. The mapping is rounded up to whole
 * pages; the alignment slack is unmapped again. */
#define BIG_ALIGN ((size_t)2 << 20)
void *plat_big_alloc(size_t n) {
  if (!n || n > SIZE_MAX - BIG_ALIGN) return NULL;
  size_t len = n + BIG_ALIGN;
  uint8_t *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return NULL;
  uintptr_t a = ((uintptr_t)p + BIG_ALIGN - 1) & ~(uintptr_t)(BIG_ALIGN - 1);
  size_t pg = (size_t)sysconf(_SC_PAGESIZE), head = (size_t)(a - (uintptr_t)p);
  size_t body = (n + pg - 1) / pg * pg;
  if (head) munmap(p, head);
  if (len - head > body) munmap((uint8_t *)a + body, len - head - body);
#ifdef MADV_HUGEPAGE
  madvise((void *)a, body, MADV_HUGEPAGE);
#endif
  return (void *)a;
}
void plat_big_free(void *p, size_t n) {
  if (!p) return;
  size_t pg = (size_t)sysconf(_SC_PAGESIZE);
  munmap(p, (n + pg - 1) / pg * pg);
}

int plat_tcp_listen(const char *host, int port, int *fd, int *bound) {
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)port);
  if (port < 0 || port > 65535 || inet_pton(AF_INET, host, &a.sin_addr) != 1) return EINVAL;
  int s = socket(AF_INET, SOCK_STREAM, 0);
  if (s < 0) return errno;
  int one = 1;
  setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(s, (struct sockaddr *)&a, sizeof a) || listen(s, 16)) {
    int e = errno;
    close(s);
    return e;
  }
  socklen_t len = sizeof a;
  if (getsockname(s, (struct sockaddr *)&a, &len)) {
    int e = errno;
    close(s);
    return e;
  }
  *fd = s;
  *bound = ntohs(a.sin_port);
  return 0;
}
int plat_tcp_accept(int lfd, int timeout_s, int *cfd) {
  int c;
  do c = accept(lfd, NULL, NULL);
  while (c < 0 && errno == EINTR);
  if (c < 0) return errno;
  struct timeval tv = {timeout_s, 0};
  setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  *cfd = c;
  return 0;
}
int plat_send_all(int fd, const void *buf, size_t n) {
  const char *p = buf;
  while (n) {
    ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) return k < 0 ? errno : EPIPE;
    p += k;
    n -= (size_t)k;
  }
  return 0;
}
int plat_recv_some(int fd, void *buf, size_t cap, size_t *got) {
  ssize_t k;
  do k = recv(fd, buf, cap, 0);
  while (k < 0 && errno == EINTR);
  if (k < 0) return errno;
  *got = (size_t)k;
  return 0;
}
