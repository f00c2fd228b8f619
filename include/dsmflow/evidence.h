/* evidence.h - the evidence values kept for flows until they end, for the
 * flow log: "SYNO.FileStation.List" found by web-api, "www.googleapis.com"
 * by sni.
 *
 * A flow keeps only a small id (struct flow.note); equal values are
 * stored once and counted. The store has a fixed capacity, allocated at
 * creation: when it is full a flow's value is not kept (and counted), its
 * attribution and what decided it are unaffected.
 */
#ifndef DSMFLOW_EVIDENCE_H
#define DSMFLOW_EVIDENCE_H

#include <stddef.h>
#include <stdint.h>

#define EVIDENCE_VALUE_MAX 255
#define EVIDENCE_DEFAULT_VALUES 8192

struct evidence_store;

/* NULL when memory runs out. Memory: capacity * about 330 bytes. */
struct evidence_store *evidence_store_new(size_t capacity);
void evidence_store_free(struct evidence_store *s);

/* Keeps value[0..len) found by evidence kind by (enum service_evidence);
 * returns its id, or 0 when the store is full (or len is 0). Values longer
 * than EVIDENCE_VALUE_MAX are cut. */
uint32_t evidence_keep(struct evidence_store *s, uint8_t by, const char *value, size_t len);
/* A flow holding id ended. */
void evidence_release(struct evidence_store *s, uint32_t id);
/* The value of id (NUL-terminated), and its kind in *by; NULL for 0. */
const char *evidence_value(const struct evidence_store *s, uint32_t id, uint8_t *by);
/* Values not kept because the store was full. */
uint64_t evidence_dropped(const struct evidence_store *s);

/* "port", "announcement", "web-api", "sni", "dns". */
const char *service_evidence_name(uint8_t by);

#endif
