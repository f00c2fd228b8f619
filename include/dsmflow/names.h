/* names.h - server names (TLS SNI, DNS answers) as evidence: matching them
 * against the catalogue's domains, and telling Synology's own
 * remote-access names (QuickConnect, Synology DDNS), which name a NAS, not
 * a service.
 */
#ifndef DSMFLOW_NAMES_H
#define DSMFLOW_NAMES_H

#include <stddef.h>

enum remote_access {
	REMOTE_ACCESS_NONE,
	REMOTE_ACCESS_QUICKCONNECT,	/* *.quickconnect.to: relays and the portal */
	REMOTE_ACCESS_DDNS,		/* a Synology DDNS host name (*.synology.me ...) */
};

/* Whether name[0..n) is domain[0..dn) or ends with "." domain: a suffix
 * on a label boundary, without regard to ASCII case ("googleapis.com"
 * matches "www.googleapis.com", never "evilgoogleapis.com"). A trailing dot
 * on name is ignored. */
int name_matches_domain(const char *name, size_t n, const char *domain, size_t dn);

/* Which Synology remote-access service name[0..n) belongs to, if any. */
enum remote_access name_remote_access(const char *name, size_t n);

#endif
