/* Small helpers every protocol needs once: CSPRNG bytes and wiping
 * secrets (base64 is in base64.c). */
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "rm.h"

void rm_random_bytes(void *buf, size_t n)
{
	if (n > 0 && RAND_bytes(buf, (int)n) != 1)
		rm_panic("RAND_bytes failed");
}

void rm_secure_zero(void *buf, size_t n)
{
	if (buf != NULL)
		OPENSSL_cleanse(buf, n);
}
