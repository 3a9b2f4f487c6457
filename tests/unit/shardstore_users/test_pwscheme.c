/*
 * Password schemes (modules/shardstore/pwscheme.c) against known
 * answers made by other tools: Python's hashlib/hmac for Dovecot's
 * digest, PBKDF2 and SCRAM forms, the reference argon2 CLI, and
 * `openssl passwd` for the crypt(3) ones.  Password "correct horse".
 */
#include <glib.h>
#include <string.h>

#include "pwscheme.h"

#define PW "correct horse"

static const char *const good[] = {
	"{SHA}L55TUjtiq8FBorTWAZ0jy6g129A=",
	"{sha1}L55TUjtiq8FBorTWAZ0jy6g129A=",
	"{SHA256}QQTTb42iwlQ0n4WDZ5Pr4CngyVcGOjTJHC6SAxh7VjE=",
	"{SHA512}VraY3v7bWkNbY0r+MyC7rz/c2SC2xQOkRvx7endrKY1HnRumqLYXgI6wv1ec6"
	"aldZoNHvKtxSQhayTyyeZUZew==",
	"{SHA256.hex}4104d36f8da2c254349f85836793ebe029e0c957063a34c91c2e92031"
	"87b5631",
	/* Dovecot reads hex where base64 is the default, by its length */
	"{SHA256}4104d36f8da2c254349f85836793ebe029e0c957063a34c91c2e9203187b5"
	"631",
	"{SSHA}NSZEu/ZzEMKdBO5ESNEYml3qKRYBAgMEBQYHCA==",
	"{SSHA256}CFsq5JPfiBQ0W3uR5Dnao+9mknEq9a739V+FPkJ6yjABAgMEBQYHCA==",
	"{SSHA512}ggObOJHDWCqgI5uFv/j9yDNYMvdTgt+Toj8d6cGrSG/e+E9GbH4DkQ8y5jY3"
	"NblhoGens+zNVX1mZaFy0qwRwwECAwQFBgcI",
	"{SSHA512.b64}ggObOJHDWCqgI5uFv/j9yDNYMvdTgt+Toj8d6cGrSG/e+E9GbH4DkQ8y"
	"5jY3NblhoGens+zNVX1mZaFy0qwRwwECAwQFBgcI",
	"{ssha512.HEX}82039b3891c3582aa0239b85bff8fdc8335832f75382df93a23f1de9"
	"c1ab486fdef84f466c7e03910f32e6363735b961a067a7b3eccd557d6665a172d2ac"
	"11c30102030405060708",
	"{PLAIN-MD5}3cb4e732631f47e6eb961f34554b7cde",
	"{SMD5}vPjZQdkpEUFwnJ1WNg63FAECAwQFBgcI",
	"{PBKDF2}$1$Ab1Cd2Ef3Gh4Ij5K$5000$eb17cf37782836091e58ad857c4be8b40137"
	"e998",
	"{SCRAM-SHA-1}4096,AQIDBAUGBwgBAgMEBQYHCA==,pb+NNvrbiTwucffAjxRV/HRv/"
	"K0=,wy+xsx9ffFR7Fffas1Wk+vIf7mI=",
	"{SCRAM-SHA-256}4096,AQIDBAUGBwgBAgMEBQYHCA==,uP/8ty3DfJyFHS6eXrMXUoS6"
	"92r0gxhXCU+oFYD352Q=,OhxMJ0otv6GC8y61wTf/2/lKHVVKwhupSynx4yYgZxM=",
	"{PLAIN}" PW,
	"{CLEARTEXT}" PW,
	"{PLAIN.b64}Y29ycmVjdCBob3JzZQ==",
	"{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$c29tZXNhbHRzb21lc2FsdA$EQn6"
	"ufNBHabX894pCwYhAbItgn5/8i6yNpUQ8CXRFd4",
	"{ARGON2I}$argon2i$v=19$m=4096,t=2,p=2$b3RoZXJzYWx0b3RoZXI$AEwe3kOTp1"
	"EWdgWFVykaY+y0uk7p17FqoR3LBJ3kNX8",
	"{MD5-CRYPT}$1$abcdefgh$y6iHhJNbuC0xpbk0w9pm80",
	"$1$abcdefgh$y6iHhJNbuC0xpbk0w9pm80",
	"{SHA512-CRYPT}$6$abcdefgh$yIZAF3gQPvtKZO/9qOJKffAKKbtS3ef3qmwyugk4uWV"
	"jX8YZf/GV3A8SkFxEPY0T56CcilGrHKLffBsp6dLMG.",
	"$6$abcdefgh$yIZAF3gQPvtKZO/9qOJKffAKKbtS3ef3qmwyugk4uWVjX8YZf/GV3A8Sk"
	"FxEPY0T56CcilGrHKLffBsp6dLMG.",
};

static void test_known_answers(void)
{
	char scheme[32];
	size_t i;

	for (i = 0; i < G_N_ELEMENTS(good); i++) {
		g_test_message("%s", good[i]);
		g_assert_cmpint(
			ss_pw_verify(PW, good[i], NULL, scheme, sizeof(scheme)),
			==, SS_PW_MATCH);
		g_assert_cmpint(
			ss_pw_verify("correct horsE", good[i], NULL, NULL, 0),
			==, SS_PW_MISMATCH);
		g_assert_cmpint(ss_pw_verify("", good[i], NULL, NULL, 0), ==,
				SS_PW_MISMATCH);
		/* a prefix of the password is no match either */
		g_assert_cmpint(ss_pw_verify("correct", good[i], NULL, NULL, 0),
				==, SS_PW_MISMATCH);
	}
}

static void test_refused(void)
{
	struct ss_pw_limits lim = SS_PW_LIMITS_DEFAULT;
	/* argon2 CLI, m=2^19 KiB: over the default 256 MiB cap, refused
	 * before any memory is taken */
	const char *big = "{ARGON2ID}$argon2id$v=19$m=524288,t=1,p=1$c29tZXNh"
			  "bHRzb21lc2FsdA$45EN8P2lFUuS53bDQx9TWdwAyhURa6ceMX3B"
			  "qk9ypAo";
	char scheme[32];

	g_assert_cmpint(ss_pw_verify(PW, big, NULL, NULL, 0), ==,
			SS_PW_TOO_COSTLY);
	lim.argon2_max_kib = 512 * 1024;
	/* under a raised cap it is run (a wrong password: the same work,
	 * the answer does not matter here) */
	g_assert_cmpint(ss_pw_verify(NULL, big, &lim, NULL, 0), ==,
			SS_PW_MISMATCH);
	lim.argon2_max_kib = 1024;
	g_assert_cmpint(ss_pw_verify(PW, good[19], &lim, NULL, 0), ==,
			SS_PW_TOO_COSTLY);
	g_assert_cmpint(ss_pw_verify(PW,
				     "{PBKDF2}$1$s$99999999$eb17cf37782836"
				     "091e58ad857c4be8b40137e998",
				     NULL, NULL, 0),
			==, SS_PW_TOO_COSTLY);
	g_assert_cmpint(ss_pw_verify(PW, "{CRAM-MD5}abcdef", NULL, scheme,
				     sizeof(scheme)),
			==, SS_PW_UNSUPPORTED);
	g_assert_cmpstr(scheme, ==, "CRAM-MD5");
	g_assert_cmpint(ss_pw_verify(PW, "{SHA256.rot13}abc", NULL, NULL, 0),
			==, SS_PW_UNSUPPORTED);
	g_assert_cmpint(ss_pw_verify(PW, "{SHA256}not base64!", NULL, NULL, 0),
			==, SS_PW_MALFORMED);
	g_assert_cmpint(ss_pw_verify(PW, "{SSHA}L55TUjtiq8FBorTWAZ0jy6g129A=",
				     NULL, NULL, 0),
			==, SS_PW_MALFORMED); /* no salt */
	g_assert_cmpint(
		ss_pw_verify(PW, "{SCRAM-SHA-1}4096,AQID", NULL, NULL, 0), ==,
		SS_PW_MALFORMED);
	g_assert_cmpint(ss_pw_verify(PW, "{ARGON2ID}$argon2id$v=19$m=,t=1$x$y",
				     NULL, NULL, 0),
			==, SS_PW_MALFORMED);
	/* no password at all never matches */
	g_assert_cmpint(ss_pw_verify("", "!", NULL, NULL, 0), ==,
			SS_PW_MISMATCH);
	g_assert_cmpint(ss_pw_verify("*", "*", NULL, NULL, 0), ==,
			SS_PW_MISMATCH);
}

static void test_storable(void)
{
	g_assert_cmpint(ss_pw_storable(good[8]), ==, 0);
	g_assert_cmpint(ss_pw_storable(good[19]), ==, 0);
	g_assert_cmpint(ss_pw_storable("$6$abcdefgh$yIZAF3gQPvtKZO/9qOJKffAKKb"
				       "tS3ef3qmwyugk4uWVjX8YZf/GV3A8SkFxEPY0T"
				       "56CcilGrHKLffBsp6dLMG."),
			==, 0);
	/* plaintext never reaches user.json */
	g_assert_cmpint(ss_pw_storable("{PLAIN}" PW), !=, 0);
	g_assert_cmpint(ss_pw_storable("{cleartext}" PW), !=, 0);
	g_assert_cmpint(ss_pw_storable(PW), !=, 0);
	g_assert_cmpint(ss_pw_storable("{CRAM-MD5}abc"), !=, 0);
	g_assert_cmpint(ss_pw_storable("{SHA}short"), !=, 0);
	g_assert_cmpint(ss_pw_is_default("$y$j9T$abc", "$y$"), ==, 1);
	g_assert_cmpint(ss_pw_is_default(good[8], "$y$"), ==, 0);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/shardstore/pwscheme/known_answers",
			test_known_answers);
	g_test_add_func("/shardstore/pwscheme/refused", test_refused);
	g_test_add_func("/shardstore/pwscheme/storable", test_storable);
	return g_test_run();
}
