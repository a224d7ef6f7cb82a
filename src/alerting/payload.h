/* payload: the outbox payload schema, the one place that writes it (for
 * the alert policy) and reads it back (for the delivery worker). The store
 * keeps a payload as opaque JSON text.
 *
 * A payload is a JSON object. The facts (create_ticket, comment,
 * source_comment): customer_id, conversation_id, channel, message_id,
 * excerpt (at most STORE_EXCERPT_MAX bytes of the text, cut on a UTF-8
 * boundary, "..." (U+2026) appended when cut), polarity, subjectivity,
 * level, severity, words, and for a message from DevRev source_object,
 * source_display_id, source_type, rev_org; a member is absent when
 * unknown. update_severity: level, severity, previous_severity.
 * update_source: source_object, source_display_id, customer_id, level,
 * and the ticket fields to set: severity and/or sentiment (DevRev's
 * integer enum id). Retention may later remove excerpt. */
#ifndef ALERTING_PAYLOAD_H
#define ALERTING_PAYLOAD_H

#include <stdbool.h>
#include <stddef.h>

#include "alerting/policy.h"
#include "devrev/client.h"
#include "store/store.h"

struct cJSON; /* cjson/cJSON.h */

/* ---- Writing (each returns owned text; caller frees) ------------------- */

/* The facts a create_ticket, comment or source_comment reports about m. */
char *payload_facts(const struct ingest_msg *m);

/* update_source: the fields pol sets on m's source ticket for an alert at
 * `level` with `severity`. */
char *payload_source_update(const struct ingest_msg *m,
                            const struct alert_policy *pol, size_t level,
                            const char *severity);

/* update_severity: m's level and severity, and the alert's previous
 * severity prev. */
char *payload_severity(const struct ingest_msg *m, const char *prev);

/* ---- Reading ------------------------------------------------------------ */

/* A parsed payload. Every string is borrowed from the parse tree (NULL
 * when the member is absent or not a string) and lives until
 * payload_cleanup. */
struct payload {
  struct cJSON *root; /* owned */
  /* The facts, as the DevRev client takes them (alert_key and ticket are
   * the caller's to set). */
  struct devrev_alert facts;
  const char *source_object, *source_display_id;
};

/* Parses json (NULL is fine) into p. Returns false when it is not a JSON
 * object (then p needs no cleanup, though payload_cleanup is harmless). */
bool payload_read(const char *json, struct payload *p);

/* The ticket fields an update_source sets: *severity (NULL: not set) and
 * *sentiment (0: not set). Returns the reason when the payload holds a
 * field of the wrong shape, NULL when it is fine. */
const char *payload_source_fields(const struct payload *p,
                                  const char **severity, int *sentiment);

void payload_cleanup(struct payload *p);

#endif
