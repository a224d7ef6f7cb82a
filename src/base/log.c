/* log: leveled records, one write(2) each.
 *
 * The timestamp is UTC with milliseconds, formatted by hand (strftime is
 * locale-aware and slower than this service's request path wants). */
#include "base/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"

static const char *const level_names[] = {"DEBUG", "INFO ", "WARN ", "ERROR"};

enum err log_level_parse(const char *name, enum log_level *out)
{
  static const char *const names[] = {"debug", "info", "warn", "error"};
  for (int i = 0; i < 4; i++) {
    if (!strcmp(name, names[i])) {
      *out = (enum log_level)i;
      return ERR_OK;
    }
  }
  return ERR_INVALID;
}

void log_init(struct log *lg, enum log_level level, int fd)
{
  lg->level = level;
  lg->fd = fd;
}

bool log_enabled(const struct log *lg, enum log_level lvl)
{
  return lvl >= lg->level;
}

/* Writes "YYYY-MM-DDTHH:MM:SS.mmmZ" (24 bytes) into out. */
static size_t format_time(char *out, size_t cap)
{
  int64_t ms = clock_wall_ms();
  time_t sec = (time_t)(ms / 1000);
  struct tm tm;
  gmtime_r(&sec, &tm);
  int n = snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                   tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                   tm.tm_min, tm.tm_sec, (int)(ms % 1000));
  return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

void log_write(const struct log *lg, enum log_level lvl, const char *fmt, ...)
{
  if (!log_enabled(lg, lvl))
    return;
  char line[LOG_LINE_MAX];
  size_t len = format_time(line, sizeof line);
  len +=
      (size_t)snprintf(line + len, sizeof line - len, " %s ", level_names[lvl]);
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(line + len, sizeof line - len - 1, fmt, ap);
  va_end(ap);
  if (n < 0)
    n = 0;
  if ((size_t)n >= sizeof line - len - 1) {
    /* Cut: vsnprintf kept what fits; mark the cut before the newline. */
    len = sizeof line - 1;
    memcpy(line + len - 3, "...", 3);
  } else {
    len += (size_t)n;
  }
  line[len++] = '\n';
  const char *p = line;
  while (len > 0) {
    ssize_t w = write(lg->fd, p, len);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      return; /* nowhere to report a failing log */
    p += w;
    len -= (size_t)w;
  }
}
