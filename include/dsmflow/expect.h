/* expect.h - connections announced by tracked control traffic (FTP data
 * connections, TFTP transfers), waiting for their first packet.
 *
 * A fixed table of slots, so announcing allocates nothing; a new
 * announcement may overwrite an older one that hashes to the same slot, and
 * an announcement is forgotten after EXPECT_TIMEOUT_US of packet time.
 */
#ifndef DSMFLOW_EXPECT_H
#define DSMFLOW_EXPECT_H

#include <stdint.h>

#define EXPECT_SLOTS 1024
#define EXPECT_TIMEOUT_US (300ull * 1000000)	/* nf_conntrack_ftp's 5 minutes */

struct expectation {
	uint8_t family;
	uint8_t ip_proto;
	uint8_t listener_is_server;	/* else the peer is the server (TFTP) */
	uint8_t in_use;
	uint16_t listen_port;
	uint16_t service;		/* catalogue service of the announced connection */
	uint8_t listen_addr[16];	/* the endpoint known exactly */
	uint8_t peer_addr[16];		/* the other side's address; its port is unknown */
	uint64_t expires_us;
};

struct expect_table {
	struct expectation slots[EXPECT_SLOTS];
	unsigned in_use;	/* slots holding an announcement: 0 spares new flows the lookups */
};

void expect_add(struct expect_table *table, const struct expectation *e);

/* Finds (and consumes) the expectation whose listener is (addr, port) with
 * peer peer_addr; NULL when there is none or it expired by now_us. */
const struct expectation *expect_take(struct expect_table *table, uint8_t family, uint8_t ip_proto,
				      const uint8_t *addr, uint16_t port, const uint8_t *peer_addr,
				      uint64_t now_us);

#endif
