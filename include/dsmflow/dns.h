/* dns.h - the addresses a DNS response gives for the name a client asked.
 *
 * dns_parse_response() reads one DNS message (a UDP payload, or a TCP
 * message without its two-byte length prefix) through the cursor
 * (cursor.h): the question name, then the answer section, following
 * CNAME chains from the question name, and reports every A and AAAA
 * answer that the chain reaches, with the *question* name (what the client
 * asked: "www.googleapis.com", not the CDN name the CNAMEs lead to).
 * Compression pointers are followed with a bound on their number, so a
 * loop ends; names are validated (label lengths, total length <= 253).
 * No allocation; the caller's callback copies what it keeps.
 */
#ifndef DSMFLOW_DNS_H
#define DSMFLOW_DNS_H

#include <stddef.h>
#include <stdint.h>

#define DNS_NAME_MAX 253	/* text form, without the final dot */
#define DNS_MAX_ANSWERS 64	/* answer records read per message, at most */

enum dns_result {
	DNS_OK,			/* a response; answers (if any) were reported */
	DNS_NOT_RESPONSE,	/* a query, or an opcode other than QUERY: nothing to read */
	DNS_BAD,		/* truncated or inconsistent */
};

/* One answer: name is the question name in lower case, NUL-terminated,
 * without the final dot; family 4 (addr[0..4)) or 6 (addr[0..16)). */
typedef void (*dns_answer_fn)(void *ctx, const char *name, size_t name_len, int family,
			      const uint8_t *addr, uint32_t ttl);

/* Parses msg[0..len). Answers are reported as they are read, so a message
 * found DNS_BAD after some answers has reported those (they are well-formed
 * records of a response). */
enum dns_result dns_parse_response(const uint8_t *msg, uint32_t len, dns_answer_fn fn, void *ctx);

#endif
