/* openapi.h -- GET /api/openapi.json: the OpenAPI 3.1 description of the REST API */
#ifndef OPENAPI_H
#define OPENAPI_H

#include "http.h"

/* Fills resp with 200 and the OpenAPI document (fcgi/openapi.json, compiled
 * in), its limits (maxLength, maximum, default) set from the contract table
 * so the description and the server cannot disagree; 500 when out of
 * memory. */
void openapi_reply(http_response *resp);

#endif
