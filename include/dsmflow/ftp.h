/* ftp.h - finding data-connection announcements in FTP control traffic:
 * the 227 and 229 replies (passive mode) and the PORT and EPRT commands
 * (active mode). */
#ifndef DSMFLOW_FTP_H
#define DSMFLOW_FTP_H

#include <stdint.h>

enum ftp_announce {
	FTP_NONE,
	FTP_PASSIVE,	/* 227/229 from the server: the server listens on the port */
	FTP_ACTIVE,	/* PORT/EPRT from the client: the client listens on the port */
};

/* Scans one segment of control-connection payload, line by line, for the
 * last announcement in it; sets *port. Reads only text[0..len). */
enum ftp_announce ftp_parse(const uint8_t *text, uint32_t len, uint16_t *port);

#endif
