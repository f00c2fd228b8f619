/* jsonout.h - the little JSON writing dsmflow needs: escaped strings.
 * Reports build their objects with fprintf around these. */
#ifndef DSMFLOW_JSONOUT_H
#define DSMFLOW_JSONOUT_H

#include <stdio.h>

/* Writes s as a JSON string literal, quotes included. */
void json_string(FILE *out, const char *s);

#endif
