/* names.c - matching server names against domains, and Synology's
 * remote-access names; see names.h.
 *
 * The remote-access domains, and where each comes from (also in
 * catalog/README.md):
 *  - quickconnect.to: QuickConnect's portal and relays
 *    (global.quickconnect.to, control hosts such as usc.quickconnect.to,
 *    relays such as usr5.<id>.<region>.quickconnect.to; nullvoidptr/qcon,
 *    protocol.md).
 *  - synology.me: Synology's DDNS ("john.synology.me", Synology KB,
 *    DSM help "DDNS", kb.synology.com .../AdminCenter/connection_ddns).
 *  - diskstation.me, myds.me: the other Synology DDNS domains offered in
 *    DSM's DDNS dialog (the same dialog; listed beside synology.me in
 *    user guides of the dialog).
 */
#include <string.h>

#include "dsmflow/names.h"

static const struct {
	const char *domain;
	enum remote_access kind;
} remote_access_domains[] = {
	{ "quickconnect.to", REMOTE_ACCESS_QUICKCONNECT },
	{ "synology.me", REMOTE_ACCESS_DDNS },
	{ "diskstation.me", REMOTE_ACCESS_DDNS },
	{ "myds.me", REMOTE_ACCESS_DDNS },
};

static char ascii_lower(char ch)
{
	return ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch;
}

static int same_ignoring_case(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (ascii_lower(a[i]) != ascii_lower(b[i]))
			return 0;
	return 1;
}

int name_matches_domain(const char *name, size_t n, const char *domain, size_t dn)
{
	if (n > 0 && name[n - 1] == '.')
		n--;
	if (dn == 0 || n < dn || !same_ignoring_case(name + n - dn, domain, dn))
		return 0;
	return n == dn || name[n - dn - 1] == '.';
}

enum remote_access name_remote_access(const char *name, size_t n)
{
	for (size_t i = 0; i < sizeof(remote_access_domains) / sizeof(remote_access_domains[0]); i++) {
		const char *d = remote_access_domains[i].domain;

		if (name_matches_domain(name, n, d, strlen(d)))
			return remote_access_domains[i].kind;
	}
	return REMOTE_ACCESS_NONE;
}
