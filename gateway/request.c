/*
 * request.c -- helpers on framed requests and responses, shared by the
 * front and the keeper. Nothing here decides anything.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "gateway/request.h"

const char *
rg_request_header(const struct rg_request *req, const char *lname)
{
	for (size_t i = 0; i < req->nheaders; i++)
		if (strcmp(req->headers[i].name, lname) == 0)
			return req->headers[i].value;
	return NULL;
}

void
rg_response_clear(struct rg_response *resp)
{
	free(resp->body);
	resp->body = NULL;
	resp->body_len = 0;
	resp->status = 0;
	resp->text = 0;
}

int
rg_response_error(struct rg_response *resp, rg_err err, const char *message,
                  const char *field)
{
	static const char oom[] =
	    "{\"error\":{\"code\":\"internal\",\"message\":\"out of memory\"}}";
	json_t *inner, *outer;
	char *text = NULL;

	free(resp->body);
	resp->body = NULL;
	resp->body_len = 0;
	resp->text = 0;
	resp->status = rg_err_status(err);
	inner = json_pack("{s:s, s:s}", "code", rg_err_code(err), "message",
	                  message != NULL ? message : rg_err_message(err));
	if (inner != NULL && field != NULL &&
	    json_object_set_new(inner, "field", json_string(field)) != 0) {
		json_decref(inner);
		inner = NULL;
	}
	outer = inner != NULL ? json_pack("{s:o}", "error", inner) : NULL;
	if (outer != NULL)
		text = json_dumps(outer, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(outer);
	if (text == NULL) {
		resp->status = 500;
		resp->body = strdup(oom);
		resp->body_len = resp->body != NULL ? strlen(oom) : 0;
		return -1;
	}
	resp->body = text;
	resp->body_len = strlen(text);
	return 0;
}
