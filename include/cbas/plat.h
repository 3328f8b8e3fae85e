/* plat.h — the only door to the operating system.
 *
 * Everything OS-specific (files with pread/pwrite, atomic rename, fsync, directory listing,
 * cores, threads, clocks, terminals, resource usage) lives behind these functions; the POSIX
 * implementation is platform/posix/plat_posix.c. Nothing under src/ includes a POSIX header.
 *
 * Conventions: functions return 0 on success or a positive error number (errno values on
 * POSIX); plat_strerror() turns it into text. Handles are plain ints (file descriptors).
 * All functions are thread-safe unless noted.
 *
 * Fault injection (tests only): plat_fault_set(op, nth, err) makes the nth subsequent call of
 * `op` (1 = the next one) fail with `err`; for PLAT_OP_READ, err = PLAT_SHORT gives a short
 * read instead. Faults are process-wide and cleared by plat_fault_clear().
 */
#ifndef CBAS_PLAT_H
#define CBAS_PLAT_H
#include <stddef.h>
#include <stdint.h>

enum { PLAT_RDONLY = 1, PLAT_WRONLY = 2, PLAT_RDWR = 3, PLAT_CREATE = 4, PLAT_TRUNC = 8, PLAT_EXCL = 16 };

int plat_open(const char *path, int flags, int *fd);
int plat_close(int fd);
/* Reads up to n bytes at offset; *got receives the count (0 at end of file). Retries EINTR. */
int plat_pread(int fd, void *buf, size_t n, uint64_t off, size_t *got);
/* Writes exactly n bytes at offset (loops over short writes). */
int plat_pwrite(int fd, const void *buf, size_t n, uint64_t off);
int plat_fsync(int fd);
int plat_fsize(int fd, uint64_t *size);
int plat_ftruncate(int fd, uint64_t size);

typedef struct plat_stat { int exists, is_dir, is_file; uint64_t size; double mtime; } plat_stat;
int plat_stat_path(const char *path, plat_stat *st); /* missing path: 0 with exists = 0 */
int plat_rename(const char *from, const char *to);   /* atomic replace within a filesystem */
int plat_unlink(const char *path);                    /* missing path is not an error */
int plat_rmdir(const char *path);
int plat_mkdir(const char *path);                     /* existing directory is not an error */
int plat_mkdir_p(const char *path);
int plat_fsync_dir(const char *dir);                  /* makes a rename in dir durable */
/* Calls cb for every entry except . and ..; in sorted (strcmp) order. Stops early and returns
 * cb's value if cb returns non-zero. */
int plat_listdir(const char *dir, int (*cb)(void *ud, const char *name), void *ud);

int plat_ncores(void);                 /* online CPUs, >= 1 */
double plat_now(void);                 /* monotonic seconds */
int plat_isatty(int fd);               /* 1 if fd is a terminal */
uint64_t plat_peak_rss(void);          /* peak resident set size of this process, bytes */
int plat_pid(void);
/* TCP, for `cbas view`: listen on host (dotted IPv4, e.g. "127.0.0.1" or "0.0.0.0") port
 * (0 = any free port; *bound receives the port), accept one connection (blocking; reads on it
 * time out after timeout_s seconds), send all bytes (a peer that went away is an error, never a
 * signal), receive what has arrived (got = 0: the peer closed). Close with plat_close. */
int plat_tcp_listen(const char *host, int port, int *fd, int *bound);
int plat_tcp_accept(int lfd, int timeout_s, int *cfd);
int plat_send_all(int fd, const void *buf, size_t n);
int plat_recv_some(int fd, void *buf, size_t cap, size_t *got);

/* Large zero-filled blocks straight from the OS (page-aligned, 2 MiB-aligned where possible,
 * huge pages where the OS offers them); NULL if refused. Free with the size allocated. */
void *plat_big_alloc(size_t n);
void plat_big_free(void *p, size_t n);
int plat_pid_alive(int pid);          /* 1 if a process with this id exists */
/* Current working directory into buf (NUL-terminated); ERANGE-like error if cap is too small. */
int plat_getcwd(char *buf, size_t cap);
const char *plat_strerror(int err);    /* thread-safe, static text */

/* Threads and mutexes. */
typedef struct plat_thread plat_thread;
typedef struct plat_mutex plat_mutex;
int plat_thread_start(plat_thread **t, void *(*fn)(void *), void *arg);
int plat_thread_join(plat_thread *t);
int plat_mutex_new(plat_mutex **m);
void plat_mutex_free(plat_mutex *m);
void plat_mutex_lock(plat_mutex *m);
void plat_mutex_unlock(plat_mutex *m);

/* Fault injection for tests. */
enum plat_op { PLAT_OP_OPEN, PLAT_OP_READ, PLAT_OP_WRITE, PLAT_OP_FSYNC, PLAT_OP_RENAME, PLAT_OP__N };
#define PLAT_SHORT (-1)
void plat_fault_set(enum plat_op op, int nth, int err);
void plat_fault_clear(void);
/* Error numbers tests may inject, named portably. */
int plat_err_nospc(void);
int plat_err_io(void);
int plat_err_noent(void);
#endif
