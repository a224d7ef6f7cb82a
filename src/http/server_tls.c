/* server_tls: the certificate and key for HTTPS.
 *
 * TLS. With a certificate and key, libmicrohttpd speaks TLS through
 * GnuTLS; everything else works the same, except that a refusal in the
 * middle of a body cannot be written beside libmicrohttpd (the socket
 * carries TLS records), so such a connection is closed without an answer.
 * The PEM text read from the files is kept until the daemon stops, then
 * wiped. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/xalloc.h"
#include "http/server_int.h"

/* Largest PEM file read for TLS_CERT or TLS_KEY (a certificate chain). */
#define SERVER_PEM_MAX ((size_t)1 << 20)

void server_wipe_free(char *p, size_t len)
{
  if (!p)
    return;
  explicit_bzero(p, len);
  free(p);
}

/* Reads the PEM file at path (named what in messages) into *out, NUL
 * terminated, with read(2) so that no stdio buffer keeps a copy of a key.
 * The caller wipes and frees it (server_wipe_free). */
static enum err read_pem(const char *what, const char *path, char **out,
                         size_t *out_len, char *err, size_t errlen)
{
  enum err rc = ERR_IO;
  char *text = NULL;
  size_t len = 0, cap = 0;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat(fd, &st)) {
    snprintf(err, errlen, "cannot read %s file '%s': %s", what, path,
             strerror(errno));
    goto out;
  }
  if (!S_ISREG(st.st_mode) || st.st_size <= 0 ||
      (uint64_t)st.st_size > SERVER_PEM_MAX) {
    snprintf(err, errlen,
             "%s file '%s' is not a PEM file (empty, not a regular file, or "
             "over %zu bytes)",
             what, path, SERVER_PEM_MAX);
    rc = ERR_INVALID;
    goto out;
  }
  cap = (size_t)st.st_size + 1;
  text = xmalloc(cap);
  while (len + 1 < cap) {
    ssize_t n = read(fd, text + len, cap - 1 - len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      snprintf(err, errlen, "cannot read %s file '%s': %s", what, path,
               n < 0 ? strerror(errno) : "it shrank while being read");
      goto out;
    }
    len += (size_t)n;
  }
  text[len] = '\0';
  if (!strstr(text, "-----BEGIN ")) {
    snprintf(err, errlen, "%s file '%s' is not PEM (no -----BEGIN line)", what,
             path);
    rc = ERR_INVALID;
    goto out;
  }
  *out = text;
  *out_len = len;
  text = NULL;
  rc = ERR_OK;
out:
  server_wipe_free(text, cap);
  if (fd >= 0)
    close(fd);
  return rc;
}

/* Loads TLS_CERT and TLS_KEY when set (config_check has made sure that
 * both or neither are). */
enum err server_load_tls(struct server *srv, char *err, size_t errlen)
{
  const struct config *cfg = srv->app->cfg;
  if (!*cfg->tls_cert && !*cfg->tls_key)
    return ERR_OK;
  if (!*cfg->tls_cert || !*cfg->tls_key) {
    snprintf(err, errlen,
             "TLS needs both TLS_CERT and TLS_KEY "
             "(--tls-cert and --tls-key)");
    return ERR_INVALID;
  }
  if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
    snprintf(err, errlen,
             "TLS_CERT is set but this libmicrohttpd was built "
             "without TLS support");
    return ERR_UNSUPPORTED;
  }
  enum err rc = read_pem("TLS_CERT", cfg->tls_cert, &srv->tls_cert,
                         &srv->tls_cert_len, err, errlen);
  if (!rc)
    rc = read_pem("TLS_KEY", cfg->tls_key, &srv->tls_key, &srv->tls_key_len,
                  err, errlen);
  srv->tls = rc == ERR_OK;
  return rc;
}
