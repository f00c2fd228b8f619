/* tls.h - the server name and ALPN of a TLS ClientHello, read as a stream.
 *
 * The client's first bytes are fed in the order they arrive, one TCP
 * segment at a time, in any split: the parser is a state machine over the
 * record layer (type, version, length; a ClientHello may span several
 * records) and the handshake, ClientHello and extension lengths, and it
 * copies nothing but the server name and the first ALPN protocol into its
 * fixed-size state. Nothing is buffered: a 1.8 KB post-quantum ClientHello
 * with the server name as its last extension costs the same state as a
 * small one. Every byte is read through the cursor (cursor.h).
 */
#ifndef DSMFLOW_TLS_H
#define DSMFLOW_TLS_H

#include <stdint.h>

#define TLS_NAME_MAX 255	/* a DNS name's longest text form */
#define TLS_ALPN_MAX 32		/* longer ALPN protocol ids are cut (and flagged) */

enum tls_result {
	TLS_MORE,	/* consistent so far: feed the next segment */
	TLS_DONE,	/* the ClientHello ended: the state holds what it had */
	TLS_NOT_TLS,	/* the first bytes are not a TLS handshake record */
	TLS_BAD,	/* a length or type is inconsistent: stop feeding */
};

/* The parser's whole state; zero it (tls_hello_init) before the first feed. */
struct tls_hello {
	/* what was found: NUL-terminated, empty when absent */
	char server_name[TLS_NAME_MAX + 1];
	char alpn[TLS_ALPN_MAX + 1];	/* the first protocol offered */
	uint8_t has_server_name;
	uint8_t alpn_cut;
	/* internal to tls.c */
	uint8_t state;			/* where in the ClientHello the parser is */
	uint8_t flags;
	uint8_t rec_have;		/* bytes of the record header read (5: in its body) */
	uint8_t acc_have;		/* bytes of a multi-byte number read so far */
	uint8_t name_len;		/* bytes of server_name copied */
	uint8_t alpn_len;		/* bytes of alpn copied */
	uint16_t ext_type;		/* of the extension being read */
	uint32_t acc;			/* the number being read, across segments and records */
	uint32_t record_left;		/* bytes left in the current record */
	uint32_t hello_left;		/* bytes left in the ClientHello body */
	uint32_t ext_left;		/* bytes left in the current extension */
	uint32_t field_left;		/* bytes left to skip or copy in the current field */
};

void tls_hello_init(struct tls_hello *h);

/* Feeds the next len bytes of the client's stream. Once it has returned
 * anything but TLS_MORE, further feeds return the same and read nothing. */
enum tls_result tls_hello_feed(struct tls_hello *h, const uint8_t *data, uint32_t len);

/* The two-compare test for "this looks like the start of a TLS handshake":
 * a handshake record (0x16) of version 3.x. */
int tls_looks_like_hello(const uint8_t *data, uint32_t len);

#endif
