/*
 * b64.c -- strict base64 decoding (b64.h): the alphabet checked here,
 * the decoding left to libsodium. Owns no state.
 */
#include <string.h>

#include <sodium.h>

#include "crypto/b64.h"

static int
rg_b64_alpha(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '+' || c == '/';
}

int
rg_b64_decode(const char *in, size_t inlen, uint8_t *out, size_t outmax,
              size_t *outlen)
{
	const char *end = NULL;
	size_t body = inlen;

	*outlen = 0;
	if (in == NULL || inlen % 4 != 0)
		return -1;
	if (body > 0 && in[body - 1] == '=')
		body--;
	if (body > 0 && in[body - 1] == '=')
		body--;
	for (size_t i = 0; i < body; i++)
		if (!rg_b64_alpha((unsigned char)in[i]))
			return -1;
	if (inlen == 0)
		return 0;
	if (sodium_base642bin(out, outmax, in, inlen, NULL, outlen, &end,
	                      sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    end != in + inlen)
		return -1;
	return 0;
}
