/* store_sqlite_own: ownership of a SQLite store (store_own).
 *
 * An exclusive flock on "<database>.lock" held by the owning handle; the
 * file holds the owner's pid as text. flock rather than fcntl locks: an
 * fcntl lock belongs to the process and any close() of the file in it
 * drops the lock, while an flock belongs to the open file and also
 * conflicts within one process. */
#include "store/store_sqlite_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "base/xalloc.h"

/* How long store_own waits for the lock: long enough to outlast a
 * store_owner's brief look (it takes the lock shared for a moment), far
 * shorter than any owner keeps it. */
#define OWN_TRIES 20
#define OWN_PAUSE_NS (5 * 1000 * 1000)

/* "<database file>.lock", or NULL for a database without a file. */
static char *lock_path(struct store *st)
{
  const char *file = sqlite3_db_filename(SQ(st)->db, "main");
  if (!file || !*file)
    return NULL;
  size_t len = strlen(file);
  char *p = xmalloc(len + sizeof ".lock");
  memcpy(p, file, len);
  memcpy(p + len, ".lock", sizeof ".lock");
  return p;
}

/* The pid written in the lock file; 0 when there is none (yet). */
static long lock_file_pid(int fd)
{
  char text[32];
  ssize_t got = pread(fd, text, sizeof text - 1, 0);
  if (got <= 0)
    return 0;
  text[got] = '\0';
  char *end;
  long pid = strtol(text, &end, 10);
  return pid > 0 && (*end == '\n' || *end == '\0') ? pid : 0;
}

static void busy_message(struct store *st, const char *path, long pid)
{
  size_t len = strlen(path) - strlen(".lock");
  if (pid)
    store_set_error(st,
                    "the store %.*s is in use by another frustration-alert "
                    "serve (pid %ld): one server per SQLite file; stop it "
                    "first or give this one another DATABASE_URL",
                    (int)len, path, pid);
  else
    store_set_error(st,
                    "the store %.*s is in use by another frustration-alert "
                    "serve (pid unknown, see %s): one server per SQLite "
                    "file",
                    (int)len, path, path);
}

enum err sq_own(struct store *st, long *holder_pid)
{
  struct sq *q = SQ(st);
  if (q->lock_fd >= 0)
    return ERR_OK;
  char *path = lock_path(st);
  enum err rc = ERR_OK;
  int fd = -1;
  if (!path)
    goto out;
  fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
  if (fd < 0) {
    store_set_error(st, "cannot open the lock file %s: %s", path,
                    strerror(errno));
    rc = ERR_IO;
    goto out;
  }
  int tries = 0;
  while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK && errno != EINTR) {
      store_set_error(st, "cannot lock %s: %s", path, strerror(errno));
      rc = ERR_IO;
      goto out;
    }
    if (++tries >= OWN_TRIES) {
      *holder_pid = lock_file_pid(fd);
      busy_message(st, path, *holder_pid);
      rc = ERR_BUSY;
      goto out;
    }
    struct timespec pause = {0, OWN_PAUSE_NS};
    nanosleep(&pause, NULL);
  }
  /* For operators and for the next one refused: who holds it. */
  char text[32];
  int len = snprintf(text, sizeof text, "%ld\n", (long)getpid());
  if (ftruncate(fd, 0) != 0 || pwrite(fd, text, (size_t)len, 0) != len) {
    store_set_error(st, "cannot write the lock file %s: %s", path,
                    strerror(errno));
    rc = ERR_IO;
    goto out;
  }
  q->lock_fd = fd;
  fd = -1;
out:
  if (fd >= 0)
    close(fd);
  free(path);
  return rc;
}

enum err sq_owner(struct store *st, long *pid)
{
  if (SQ(st)->lock_fd >= 0) {
    *pid = (long)getpid();
    return ERR_OK;
  }
  char *path = lock_path(st);
  if (!path)
    return ERR_OK;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    /* A shared lock is granted only when nobody owns the store. */
    if (flock(fd, LOCK_SH | LOCK_NB) == 0)
      flock(fd, LOCK_UN);
    else if (errno == EWOULDBLOCK)
      *pid = lock_file_pid(fd);
    close(fd);
  }
  free(path);
  return ERR_OK;
}
