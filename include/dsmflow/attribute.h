/* attribute.h - deciding, for a new flow, which side is the server and which
 * DSM service (or group of candidate services) the flow belongs to.
 *
 * The server side comes from the strongest evidence present: an announcement
 * on a tracked control connection, a SYN, a --nas address with the
 * catalogue's roles, the catalogue alone, and last the lower port. The
 * attribution is then the server port's candidate set, narrowed by role
 * when --nas tells whether the NAS serves or connects out: one candidate is
 * a service, several are a group, none is "unclassified".
 */
#ifndef DSMFLOW_ATTRIBUTE_H
#define DSMFLOW_ATTRIBUTE_H

#include <stddef.h>
#include <stdint.h>

#include "dsmflow/catalog.h"
#include "dsmflow/decode.h"
#include "dsmflow/flow.h"
#include "dsmflow/index.h"
#include "dsmflow/netaddr.h"

struct attributor;

/* nas[0..nas_count) are copied. NULL when memory runs out. */
struct attributor *attributor_new(const struct catalog *cat, const struct port_index *idx,
				  const struct cidr *nas, size_t nas_count);
void attributor_free(struct attributor *a);

/* Sets flow's server, evidence, kind, attribution and tracked from its first
 * packet pkt, sent by endpoint from, at now_us. */
void attribute_flow(struct attributor *a, struct flow *flow, uint8_t from,
		    const struct decoded *pkt, uint64_t now_us);

/* Reads the payload of a tracked flow's packet for announcements of further
 * connections (FTP's 227, 229, PORT, EPRT). */
void attribute_payload(struct attributor *a, const struct flow *flow, uint8_t from,
		       const struct decoded *pkt, uint64_t now_us);

/* The catalogue protocol of an IP protocol number, or -1 for none. */
int attribute_dsm_proto(uint8_t ip_proto);

#endif
